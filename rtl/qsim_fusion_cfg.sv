// qsim_fusion_cfg — the BitBrick fusion of a precision mode (fusion_cfg_t),
// decoded once per fold for the whole array.
//
// A w-bit x a-bit mode (w, a in 2, 4, 8) holds P = (8/w) * (8/a) products. Brick
// (x, y) of the 4 x 4 grid takes digit i = x mod (w/2) of weight element p and digit
// j = y mod (a/2) of activation element p, where p = (x div (w/2)) * (4 / (a/2)) +
// y div (a/2): each product gets a (w/2) x (a/2) block of bricks. Element p of a
// word sits at bits [p*w +: w] (weights) / [p*a +: a] (activations), so its digit
// i is digit p*(w/2) + i of the word.
module qsim_fusion_cfg (
  input  logic [1:0]               wmode,  // BITS_2 / BITS_4 / BITS_8 (anything else: 8)
  input  logic [1:0]               amode,
  input  logic                     w_signed,
  input  logic                     a_signed,
  output qsim_rtl_pkg::fusion_cfg_t cfg
);
  // log2 of the digits per element, and the digit index mask.
  logic [1:0] lw, la, mw, ma;
  assign lw = wmode == qsim_rtl_pkg::BITS_2 ? 2'd0 : (wmode == qsim_rtl_pkg::BITS_4 ? 2'd1 : 2'd2);
  assign la = amode == qsim_rtl_pkg::BITS_2 ? 2'd0 : (amode == qsim_rtl_pkg::BITS_4 ? 2'd1 : 2'd2);
  assign mw = (2'd1 << lw) - 2'd1;
  assign ma = (2'd1 << la) - 2'd1;

  // Flat vectors (packed arrays of arrays are fields of fusion_cfg_t only).
  logic [63:0] wdig, adig;  // 16 x 4 bits
  logic [15:0] wsgn, asgn;
  logic [7:0]  xdig, ydig;  // 4 x 2 bits
  for (genvar x = 0; x < 4; x++) begin : g_x
    assign xdig[2*x +: 2] = 2'(x) & mw;
    assign ydig[2*x +: 2] = 2'(x) & ma;
    for (genvar y = 0; y < 4; y++) begin : g_y
      logic [3:0] p;
      assign p = ((4'(x) >> lw) << (2'd2 - la)) | (4'(y) >> la);
      assign wdig[4*(4*x+y) +: 4] = (p << lw) | {2'd0, xdig[2*x +: 2]};
      assign adig[4*(4*x+y) +: 4] = (p << la) | {2'd0, ydig[2*y +: 2]};
      assign wsgn[4*x+y] = w_signed && xdig[2*x +: 2] == mw;
      assign asgn[4*x+y] = a_signed && ydig[2*y +: 2] == ma;
    end
  end
  assign cfg = {wdig, adig, wsgn, asgn, xdig, ydig, w_signed, a_signed};
endmodule
