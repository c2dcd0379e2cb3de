// qsim_pe — one processing element of the systolic array, for every dataflow.
//
// FUSION = 1: the Bit Fusion PE (qsim_fusion_unit: 2-bit BitBricks fused per fold
// into 8x8 ... 2x2 multipliers, operands packed in 32-bit words).
// FUSION = 0: a fixed 8-bit PE with the same ports (element 0 of each word, signed
// or unsigned), for the area comparison (scripts/rtl_area.sh); it keeps only the
// 8 bits it uses in its registers.
//
// Per cycle (docs/rtl.md has the timing):
//   os  the west operand (activations, with the first/last flags of the reduction)
//       and the north operand (weights) meet here and move on east / south; the
//       accumulator restarts at `first`, and at `last` the final sum leaves through
//       the column's output port (`emit`, `result`) in this cycle.
//   ws  the north register is stationary (weights), loaded while `load_en` shifts
//       the column down; the west operand (activations) streams east; the partial
//       sum from the PE above plus this PE's term moves south.
//   is  as ws with activations stationary and weights streamed.
// A term is added only when both operands are valid; `clr` (the cycle before a
// fold's first) drops every valid bit: a fold starts on an empty array.
module qsim_pe #(
  parameter bit FUSION = 1'b1,
  parameter int ACC_BITS = 32
) (
  input  logic                      clk,
  input  logic                      rst,
  input  logic                      clr,
  // the running fold's configuration
  input  logic [1:0]                dataflow,
  input  qsim_rtl_pkg::fusion_cfg_t fcfg,      // precision mode and signedness
  input  logic                      load_en,   // ws/is: the stationary operand shifts down
  input  logic                      top,       // ws/is: first row, partial sums start here
  input  logic                      tap,       // ws/is: last active row, partial sums leave here
  // west operand, moving east
  input  logic [31:0]               west_word,
  input  logic                      west_valid,
  input  logic                      west_first,
  input  logic                      west_last,
  output logic [31:0]               east_word,
  output logic                      east_valid,
  output logic                      east_first,
  output logic                      east_last,
  // north operand, moving south (os) or shifted in as the stationary one (ws/is)
  input  logic [31:0]               north_word,
  input  logic                      north_valid,
  output logic [31:0]               south_word,
  output logic                      south_valid,
  // partial sums (ws/is), moving south
  input  logic [ACC_BITS-1:0]       psum_in,
  input  logic                      psum_valid_in,
  output logic [ACC_BITS-1:0]       psum_out,
  output logic                      psum_valid_out,
  // an output leaving the array in this cycle
  output logic                      emit,
  output logic [ACC_BITS-1:0]       result
);
  localparam int OPW = FUSION ? 32 : 8;  // operand bits the PE keeps
  localparam int TB = qsim_rtl_pkg::TERM_BITS;

  logic os, is;
  assign os = dataflow == qsim_rtl_pkg::DF_OS;
  assign is = dataflow == qsim_rtl_pkg::DF_IS;

  logic [OPW-1:0]      h_q, v_q;
  logic                h_valid, h_first, h_last, v_valid, p_valid;
  logic [ACC_BITS-1:0] acc_q;

  // The operands of this cycle: os takes the north word as it passes, ws/is the
  // stationary register; is swaps which one is the weight.
  logic [OPW-1:0] v_word, w_op, a_op;
  logic           v_ok, mac;
  assign v_word = os ? north_word[OPW-1:0] : v_q;
  assign v_ok   = os ? north_valid : v_valid;
  assign w_op   = is ? west_word[OPW-1:0] : v_word;
  assign a_op   = is ? v_word : west_word[OPW-1:0];
  assign mac    = west_valid & v_ok;

  logic [TB-1:0] term;  // signed
  if (FUSION) begin : g_fusion
    qsim_fusion_unit u_fusion (.cfg(fcfg), .w_word(w_op), .a_word(a_op), .sum(term));
  end else begin : g_fixed
    logic signed [TB-1:0] ws, as;
    assign ws = $signed({{(TB - 8){fcfg.w_signed & w_op[7]}}, w_op});
    assign as = $signed({{(TB - 8){fcfg.a_signed & a_op[7]}}, a_op});
    assign term = ws * as;
    // The fixed PE runs every fold at 8 x 8 bits on element 0 of each word.
    /* verilator lint_off UNUSEDSIGNAL */
    logic unused_ok;
    assign unused_ok = ^{fcfg.wdig, fcfg.adig, fcfg.wsgn, fcfg.asgn, fcfg.xdig, fcfg.ydig,
                         west_word[31:8], north_word[31:8]};
    /* verilator lint_on UNUSEDSIGNAL */
  end

  // The term at the accumulator's width: sign-extended, or wrapped when narrower
  // (addition modulo 2^ACC_BITS is the same either way).
  logic [ACC_BITS-1:0] term_acc, os_next, ws_next, next;
  logic                ws_valid;
  if (ACC_BITS > TB) begin : g_ext
    assign term_acc = {{(ACC_BITS - TB){term[TB-1]}}, term};
  end else begin : g_wrap
    assign term_acc = term[ACC_BITS-1:0];
    /* verilator lint_off UNUSEDSIGNAL */
    logic unused_high;
    assign unused_high = ^term;
    /* verilator lint_on UNUSEDSIGNAL */
  end
  assign os_next  = mac ? (west_first ? '0 : acc_q) + term_acc : acc_q;
  assign ws_next  = psum_in + (mac ? term_acc : '0);
  assign ws_valid = top ? mac : psum_valid_in;
  assign next     = os ? os_next : ws_next;

  assign emit   = os ? (mac & west_last) : (tap & ws_valid);
  assign result = next;

  always_ff @(posedge clk) begin
    h_q     <= west_word[OPW-1:0];
    h_first <= west_first;
    h_last  <= west_last;
    if (os || load_en) v_q <= north_word[OPW-1:0];
    acc_q <= next;
    if (rst || clr) begin
      h_valid <= 1'b0;
      v_valid <= 1'b0;
      p_valid <= 1'b0;
    end else begin
      h_valid <= west_valid;
      if (os || load_en) v_valid <= north_valid;
      p_valid <= ws_valid;
    end
  end

  assign east_word      = 32'(h_q);
  assign east_valid     = h_valid;
  assign east_first     = h_first;
  assign east_last      = h_last;
  assign south_word     = 32'(v_q);
  assign south_valid    = v_valid;
  assign psum_out       = acc_q;
  assign psum_valid_out = p_valid;
endmodule
