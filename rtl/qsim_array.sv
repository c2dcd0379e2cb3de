// qsim_array — qsim_array_core with unpacked lane ports, the top Verilator builds
// (a wide packed bus made the verilated model about 20x slower here): lane i of
// every bus is element [i]. Ports and timing: qsim_array_core.
module qsim_array #(
  parameter int ROWS = 4,
  parameter int COLS = 4,
  parameter int ACC_BITS = 32,
  parameter bit FUSION = 1'b1
) (
  input  logic                clk,
  input  logic                rst,
  input  logic                cmd_valid,
  output logic                cmd_ready,
  input  logic [1:0]          cmd_dataflow,  // qsim_rtl_pkg::DF_*
  input  logic [1:0]          cmd_wmode,     // qsim_rtl_pkg::BITS_*
  input  logic [1:0]          cmd_amode,
  input  logic                cmd_w_signed,
  input  logic                cmd_a_signed,
  input  logic                cmd_accumulate,
  input  logic [15:0]         cmd_rows,      // the active array (<= ROWS x COLS)
  input  logic [15:0]         cmd_cols,
  input  logic [15:0]         cmd_rows_used,
  input  logic [15:0]         cmd_cols_used,
  input  logic [31:0]         cmd_steps,
  output logic                west_rd    [ROWS],
  output logic [31:0]         west_step  [ROWS],
  input  logic [31:0]         west_data  [ROWS],
  output logic                north_rd   [COLS],
  output logic [31:0]         north_step [COLS],
  input  logic [31:0]         north_data [COLS],
  output logic                psum_rd    [COLS],
  output logic [31:0]         psum_step  [COLS],
  input  logic [ACC_BITS-1:0] psum_data  [COLS],
  output logic                south_valid[COLS],
  output logic [31:0]         south_step [COLS],
  output logic [ACC_BITS-1:0] south_data [COLS],
  output logic                req_start,
  output logic                fold_start,
  output logic                fold_last,
  output logic                busy
);
  qsim_rtl_pkg::fold_cmd_t  cmd;
  logic [ROWS-1:0]          w_rd;
  logic [ROWS*32-1:0]       w_step, w_data;
  logic [COLS-1:0]          n_rd, p_rd, s_valid;
  logic [COLS*32-1:0]       n_step, n_data, p_step, s_step;
  logic [COLS*ACC_BITS-1:0] p_data, s_data;
  assign cmd = {cmd_dataflow, cmd_wmode, cmd_amode, cmd_w_signed, cmd_a_signed, cmd_accumulate,
                cmd_rows, cmd_cols, cmd_rows_used, cmd_cols_used, cmd_steps};

  qsim_array_core #(.ROWS(ROWS), .COLS(COLS), .ACC_BITS(ACC_BITS), .FUSION(FUSION)) u_core (
    .clk, .rst, .cmd_valid, .cmd_ready, .cmd,
    .west_rd(w_rd), .west_step(w_step), .west_data(w_data),
    .north_rd(n_rd), .north_step(n_step), .north_data(n_data),
    .psum_rd(p_rd), .psum_step(p_step), .psum_data(p_data),
    .south_valid(s_valid), .south_step(s_step), .south_data(s_data),
    .req_start, .fold_start, .fold_last, .busy
  );

  for (genvar r = 0; r < ROWS; r++) begin : g_rows
    assign west_rd[r]            = w_rd[r];
    assign west_step[r]          = w_step[32*r +: 32];
    assign w_data[32*r +: 32]    = west_data[r];
  end
  for (genvar c = 0; c < COLS; c++) begin : g_cols
    assign north_rd[c]                    = n_rd[c];
    assign north_step[c]                  = n_step[32*c +: 32];
    assign n_data[32*c +: 32]             = north_data[c];
    assign psum_rd[c]                     = p_rd[c];
    assign psum_step[c]                   = p_step[32*c +: 32];
    assign p_data[ACC_BITS*c +: ACC_BITS] = psum_data[c];
    assign south_valid[c]                 = s_valid[c];
    assign south_step[c]                  = s_step[32*c +: 32];
    assign south_data[c]                  = s_data[ACC_BITS*c +: ACC_BITS];
  end
endmodule
