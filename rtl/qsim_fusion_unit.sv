// qsim_fusion_unit — 16 BitBricks that fuse, per fold, into the multipliers of one
// precision mode and add their products: the dot product of the elements packed in
// a weight word and an activation word (Bit Fusion, ISCA'18, Sharma et al.).
//
// Modes: weights and activations of 2, 4 or 8 bits each (8x8, 8x4/4x8, 4x4,
// 8x2/2x8, 4x2/2x4, 2x2), as decoded by qsim_fusion_cfg. The unit outputs the sum
// of the mode's P = (8/w) * (8/a) products, each formed from (w/2) * (a/2) bricks
// as intarith::brick_product forms it (arith/int_arith.h).
//
// Brick (x, y)'s product weighs 4^(i + j), i the weight digit index (set by the
// grid row x) and j the activation digit index (set by the grid column y), so the
// sum is a two-level shift-add tree whose shifts are set by the mode: along y
// first, then along x. Arithmetic is modulo 2^TERM_BITS: the true sum fits, so the
// wrapped partial sums of the tree give it exactly.
module qsim_fusion_unit (
  input  qsim_rtl_pkg::fusion_cfg_t cfg,
  input  logic [31:0]               w_word,
  input  logic [31:0]               a_word,
  output logic [17:0]               sum      // signed, TERM_BITS
);
  logic [17:0] row_sum [4];
  for (genvar x = 0; x < 4; x++) begin : g_x
    logic [17:0] shifted [4];
    for (genvar y = 0; y < 4; y++) begin : g_y
      logic [5:0] prod;
      qsim_bitbrick u_brick (
        .x(w_word[{cfg.wdig[4*x+y], 1'b0} +: 2]),
        .x_signed(cfg.wsgn[4*x+y]),
        .y(a_word[{cfg.adig[4*x+y], 1'b0} +: 2]),
        .y_signed(cfg.asgn[4*x+y]),
        .p(prod)
      );
      assign shifted[y] = {{12{prod[5]}}, prod} << {cfg.ydig[y], 1'b0};
    end
    assign row_sum[x] = (shifted[0] + shifted[1]) + (shifted[2] + shifted[3]);
  end
  assign sum = ((row_sum[0] << {cfg.xdig[0], 1'b0}) + (row_sum[1] << {cfg.xdig[1], 1'b0}))
             + ((row_sum[2] << {cfg.xdig[2], 1'b0}) + (row_sum[3] << {cfg.xdig[3], 1'b0}));

  // The fixed PE's fields.
  /* verilator lint_off UNUSEDSIGNAL */
  logic unused_signs;
  assign unused_signs = cfg.w_signed ^ cfg.a_signed;
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
