// qsim_fold_seq — the array's control: a one-entry fold queue and the fixed-latency
// fold sequencer, in two stages one cycle apart.
//
// A fold of an active rows x cols array lasts L = rows + cols + T - 2 cycles (os)
// or 2*rows + cols + T - 2 (ws/is) whatever part of the array it uses (T: streamed
// steps), as the SystemC model's SystolicCore and the analytical model count it.
// Folds follow each other without a gap while commands keep coming.
//
// Request stage (fold cycle t of the next cycle): every edge lane's buffer read for
// fold cycle t, one cycle ahead, because the operand buffers are synchronous
// (address in cycle t-1, data at the array edge in cycle t):
//   os     west lane r reads step t - r (activations A[m0 + r][pack]), north lane c
//          step t - c (weights B[pack][n0 + c]);
//   ws/is  cycles 0 .. rows-1 load the stationary operand: north lane c reads tile
//          row rows-1-t; from cycle rows, west lane r streams step t - rows - r;
//          the output of step q leaves column c in cycle 2*rows - 1 + q + c, and its
//          stored partial sum is read one cycle ahead (psum lanes, `accumulate`).
// Execute stage (the fold cycle the array runs now): the fold's configuration for
// the PEs (the BitBrick fusion decoded once for the whole array), the load phase,
// and the output step of each column.
module qsim_fold_seq #(
  parameter int ROWS = 4,
  parameter int COLS = 4
) (
  input  logic                      clk,
  input  logic                      rst,
  input  logic                      cmd_valid,
  output logic                      cmd_ready,
  input  qsim_rtl_pkg::fold_cmd_t   cmd,
  // request stage (lane i at [i], [32*i +: 32])
  output logic [ROWS-1:0]           west_rd,
  output logic [ROWS*32-1:0]        west_step,
  output logic [ROWS-1:0]           west_first,
  output logic [ROWS-1:0]           west_last,
  output logic [COLS-1:0]           north_rd,
  output logic [COLS*32-1:0]        north_step,
  output logic [COLS-1:0]           psum_rd,
  output logic [COLS*32-1:0]        psum_step,
  output logic                      clr,        // requests of a fold's first cycle: the next cycle is its first
  // execute stage
  output logic [1:0]                ex_dataflow,
  output qsim_rtl_pkg::fusion_cfg_t ex_fcfg,    // the fold's BitBrick fusion, registered
  output logic                      ex_accumulate,
  output logic [15:0]               ex_rows,
  output logic                      ex_load_en,
  output logic [COLS*32-1:0]        out_step,
  output logic                      fold_start,
  output logic                      fold_last,
  output logic                      busy
);
  qsim_rtl_pkg::fold_cmd_t q_cmd, rq, next_cmd;
  logic        q_valid, rq_active, ex_active;
  logic [31:0] rq_t, rq_len, ex_t, ex_len, next_len;

  // A fold is taken when the request stage is idle or in its last cycle, from the
  // queue or, when the queue is empty, straight from the command (so folds of any
  // length, even one cycle, follow each other without a gap).
  logic rq_last, take;
  assign rq_last   = rq_active && rq_t == rq_len - 32'd1;
  assign take      = (q_valid || cmd_valid) && (!rq_active || rq_last);
  assign next_cmd  = q_valid ? q_cmd : cmd;
  assign cmd_ready = !q_valid || take;
  assign clr       = rq_active && rq_t == 32'd0;
  assign next_len  = (next_cmd.dataflow == qsim_rtl_pkg::DF_OS ? 32'(next_cmd.rows) : 32'(next_cmd.rows) << 1)
                   + 32'(next_cmd.cols) + next_cmd.steps - 32'd2;

  // rq.cols only sets the length, computed when the fold is taken.
  /* verilator lint_off UNUSEDSIGNAL */
  logic unused_cols;
  assign unused_cols = ^rq.cols;
  /* verilator lint_on UNUSEDSIGNAL */

  qsim_rtl_pkg::fusion_cfg_t rq_fcfg;
  qsim_fusion_cfg u_fcfg (.wmode(rq.wmode), .amode(rq.amode), .w_signed(rq.w_signed), .a_signed(rq.a_signed),
                          .cfg(rq_fcfg));

  // Signed 34-bit views of the request stage's counters (no wrap in the compares).
  logic signed [33:0] t_s, rows_s, steps_s, used_s;
  logic               rq_os;
  assign t_s     = $signed({2'b0, rq_t});
  assign rows_s  = $signed({18'b0, rq.rows});
  assign steps_s = $signed({2'b0, rq.steps});
  assign used_s  = $signed({18'b0, rq.rows_used});
  assign rq_os   = rq.dataflow == qsim_rtl_pkg::DF_OS;

  for (genvar r = 0; r < ROWS; r++) begin : g_west
    logic signed [33:0] q;
    assign q = rq_os ? t_s - 34'(r) : t_s - rows_s - 34'(r);
    assign west_rd[r]            = rq_active && 16'(r) < rq.rows_used && q >= 0 && q < steps_s;
    assign west_step[32*r +: 32] = q[31:0];
    assign west_first[r]         = q == 34'sd0;
    assign west_last[r]          = q == steps_s - 34'sd1;
  end

  logic [COLS*32-1:0] pred_step;
  for (genvar c = 0; c < COLS; c++) begin : g_north
    logic               col_used, pred, os_rd, st_rd;
    logic signed [33:0] q, j, o_os, o_st;
    assign col_used = 16'(c) < rq.cols_used;
    assign q    = t_s - 34'(c);
    assign j    = rows_s - 34'sd1 - t_s;
    assign o_os = t_s - (steps_s - 34'sd1) - 34'(c);   // os: the PE row whose last step is now
    assign o_st = t_s - (rows_s <<< 1) + 34'sd1 - 34'(c);  // ws/is: the step leaving the column now
    assign os_rd = col_used && q >= 0 && q < steps_s;
    assign st_rd = col_used && j >= 0 && j < used_s;
    assign north_rd[c]              = rq_active && (rq_os ? os_rd : st_rd);
    assign north_step[32*c +: 32]   = rq_os ? q[31:0] : j[31:0];
    assign pred = col_used && (rq_os ? o_os >= 0 && o_os < used_s : o_st >= 0 && o_st < steps_s);
    assign pred_step[32*c +: 32]    = rq_os ? o_os[31:0] : o_st[31:0];
    assign psum_rd[c]               = rq_active && !rq_os && rq.accumulate && pred;
    assign psum_step[32*c +: 32]    = o_st[31:0];
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      q_valid   <= 1'b0;
      rq_active <= 1'b0;
      ex_active <= 1'b0;
    end else begin
      if (cmd_valid && cmd_ready && (q_valid || !take)) begin
        q_valid <= 1'b1;
        q_cmd   <= cmd;
      end else if (take && q_valid) begin
        q_valid <= 1'b0;
      end
      if (take) begin
        rq        <= next_cmd;
        rq_t      <= 32'd0;
        rq_len    <= next_len;
        rq_active <= 1'b1;
      end else if (rq_last) begin
        rq_active <= 1'b0;
      end else if (rq_active) begin
        rq_t <= rq_t + 32'd1;
      end
      ex_active <= rq_active;
    end
    ex_dataflow   <= rq.dataflow;
    ex_fcfg       <= rq_fcfg;
    ex_accumulate <= rq.accumulate;
    ex_rows       <= rq.rows;
    ex_t          <= rq_t;
    ex_len        <= rq_len;
    ex_load_en    <= rq_active && !rq_os && t_s < rows_s;
    out_step      <= pred_step;
  end

  assign fold_start = ex_active && ex_t == 32'd0;
  assign fold_last  = ex_active && ex_t == ex_len - 32'd1;
  assign busy       = q_valid || rq_active || ex_active;
endmodule
