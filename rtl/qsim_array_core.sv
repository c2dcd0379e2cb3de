// qsim_array_core — the ROWS x COLS variable-precision systolic array with its
// control (docs/rtl.md): Bit Fusion PEs (FUSION = 1) or fixed 8-bit PEs
// (FUSION = 0), output-, weight- and input-stationary folds, ACC_BITS-wide
// wrapping accumulators, cycle for cycle as the SystemC model's array
// (sim/systolic/array_core.h) on an active rows x cols part of the array.
//
// Lane buses are flat (lane i at [i] or [W*i +: W]), the synthesizable form
// (scripts/rtl_area.sh); qsim_array gives Verilator unpacked ports instead.
//   cmd            the next fold (valid/ready; a one-entry queue keeps folds back to back)
//   west_rd/_step  per row lane, the step it reads for the next cycle (qsim_fold_seq);
//                  west_data returns it in that cycle (the operand buffers are
//                  synchronous: data one cycle after the address). A word packs the
//                  elements of one step at the fold's width, zeros past the end of
//                  the reduction.
//   north_*        the same per column lane.
//   psum_*         ws/is with accumulate: the stored partial sum of the output a
//                  column writes in the next cycle.
//   south_*        per column, an output written in this cycle: its step (os: the PE
//                  row; ws: the streamed row of A; is: of B) and its value (plus the
//                  stored partial sum, modulo 2^ACC_BITS).
//   req_start      the lanes request a fold's first cycle (the cycle before fold_start).
//   fold_start/_last  the array runs the first / last cycle of a fold.
module qsim_array_core #(
  parameter int ROWS = 4,
  parameter int COLS = 4,
  parameter int ACC_BITS = 32,
  parameter bit FUSION = 1'b1
) (
  input  logic                     clk,
  input  logic                     rst,
  input  logic                     cmd_valid,
  output logic                     cmd_ready,
  input  qsim_rtl_pkg::fold_cmd_t  cmd,
  output logic [ROWS-1:0]          west_rd,
  output logic [ROWS*32-1:0]       west_step,
  input  logic [ROWS*32-1:0]       west_data,
  output logic [COLS-1:0]          north_rd,
  output logic [COLS*32-1:0]       north_step,
  input  logic [COLS*32-1:0]       north_data,
  output logic [COLS-1:0]          psum_rd,
  output logic [COLS*32-1:0]       psum_step,
  input  logic [COLS*ACC_BITS-1:0] psum_data,
  output logic [COLS-1:0]          south_valid,
  output logic [COLS*32-1:0]       south_step,
  output logic [COLS*ACC_BITS-1:0] south_data,
  output logic                     req_start,
  output logic                     fold_start,
  output logic                     fold_last,
  output logic                     busy
);
  logic [ROWS-1:0]           west_first, west_last;
  logic                      clr, load_en, ex_accumulate;
  logic [1:0]                ex_dataflow;
  qsim_rtl_pkg::fusion_cfg_t ex_fcfg;
  logic [15:0]               ex_rows;
  logic [COLS*32-1:0]        out_step;
  qsim_fold_seq #(.ROWS(ROWS), .COLS(COLS)) u_seq (
    .clk, .rst, .cmd_valid, .cmd_ready, .cmd,
    .west_rd, .west_step, .west_first, .west_last, .north_rd, .north_step, .psum_rd, .psum_step,
    .clr, .ex_dataflow, .ex_fcfg, .ex_accumulate, .ex_rows, .ex_load_en(load_en), .out_step,
    .fold_start, .fold_last, .busy
  );
  assign req_start  = clr;
  assign south_step = out_step;

  // The operand buffers' output registers: the data of this cycle's requests.
  logic [ROWS*32-1:0]       wq;
  logic [ROWS-1:0]          wq_valid, wq_first, wq_last;
  logic [COLS*32-1:0]       nq;
  logic [COLS-1:0]          nq_valid;
  logic [COLS*ACC_BITS-1:0] pq;
  always_ff @(posedge clk) begin
    wq       <= west_data;
    nq       <= north_data;
    pq       <= psum_data;
    wq_valid <= rst ? '0 : west_rd;
    wq_first <= west_first;
    wq_last  <= west_last;
    nq_valid <= rst ? '0 : north_rd;
  end

  // PE(r, c) outputs, read by its east and south neighbours.
  logic [31:0]         e_word  [ROWS][COLS];
  logic                e_valid [ROWS][COLS];
  logic                e_first [ROWS][COLS];
  logic                e_last  [ROWS][COLS];
  logic [31:0]         s_word  [ROWS][COLS];
  logic                s_valid [ROWS][COLS];
  logic [ACC_BITS-1:0] p_sum   [ROWS][COLS];
  logic                p_valid [ROWS][COLS];
  logic                emit    [ROWS][COLS];
  logic [ACC_BITS-1:0] result  [ROWS][COLS];

  for (genvar r = 0; r < ROWS; r++) begin : g_row
    logic tap;
    assign tap = 16'(r) == ex_rows - 16'd1;
    for (genvar c = 0; c < COLS; c++) begin : g_col
      logic [31:0]         w_word, n_word;
      logic                w_valid, w_first, w_last, n_valid, pi_valid;
      logic [ACC_BITS-1:0] pi;
      if (c == 0) begin : g_edge_w
        assign w_word  = wq[32*r +: 32];
        assign w_valid = wq_valid[r];
        assign w_first = wq_first[r];
        assign w_last  = wq_last[r];
      end else begin : g_inner_w
        assign w_word  = e_word[r][c-1];
        assign w_valid = e_valid[r][c-1];
        assign w_first = e_first[r][c-1];
        assign w_last  = e_last[r][c-1];
      end
      if (r == 0) begin : g_edge_n
        assign n_word   = nq[32*c +: 32];
        assign n_valid  = nq_valid[c];
        assign pi       = '0;
        assign pi_valid = 1'b0;
      end else begin : g_inner_n
        assign n_word   = s_word[r-1][c];
        assign n_valid  = s_valid[r-1][c];
        assign pi       = p_sum[r-1][c];
        assign pi_valid = p_valid[r-1][c];
      end
      qsim_pe #(.FUSION(FUSION), .ACC_BITS(ACC_BITS)) u_pe (
        .clk, .rst, .clr, .dataflow(ex_dataflow), .fcfg(ex_fcfg), .load_en, .top(r == 0), .tap,
        .west_word(w_word), .west_valid(w_valid), .west_first(w_first), .west_last(w_last),
        .east_word(e_word[r][c]), .east_valid(e_valid[r][c]), .east_first(e_first[r][c]), .east_last(e_last[r][c]),
        .north_word(n_word), .north_valid(n_valid), .south_word(s_word[r][c]), .south_valid(s_valid[r][c]),
        .psum_in(pi), .psum_valid_in(pi_valid), .psum_out(p_sum[r][c]), .psum_valid_out(p_valid[r][c]),
        .emit(emit[r][c]), .result(result[r][c])
      );
    end
  end

  // At most one PE of a column writes in a cycle (os: the one finishing its last
  // step; ws/is: the active bottom row), so the column port is an AND-OR of them.
  logic add_psum;
  assign add_psum = ex_accumulate && ex_dataflow != qsim_rtl_pkg::DF_OS;
  for (genvar c = 0; c < COLS; c++) begin : g_out
    logic                v [ROWS] /*verilator split_var*/;  // one variable per element: not a loop
    logic [ACC_BITS-1:0] d [ROWS] /*verilator split_var*/;
    for (genvar r = 0; r < ROWS; r++) begin : g_or
      if (r == 0) begin : g_first
        assign v[r] = emit[r][c];
        assign d[r] = emit[r][c] ? result[r][c] : '0;
      end else begin : g_next
        assign v[r] = v[r-1] | emit[r][c];
        assign d[r] = d[r-1] | (emit[r][c] ? result[r][c] : '0);
      end
    end
    assign south_valid[c]                     = v[ROWS-1];
    assign south_data[ACC_BITS*c +: ACC_BITS] = d[ROWS-1] + (add_psum ? pq[ACC_BITS*c +: ACC_BITS] : '0);
  end
endmodule
