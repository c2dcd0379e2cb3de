// qsim_rtl_pkg — encodings shared by the RTL of the variable-precision systolic
// array (docs/rtl.md). The C++ driver (rtl/rtl_array.h) uses the same values.
// Not every unit uses every constant (the fusion unit alone is linted and verilated too).
/* verilator lint_off UNUSEDPARAM */
package qsim_rtl_pkg;

  // Dataflow of a fold: output-, weight-, input-stationary.
  localparam logic [1:0] DF_OS = 2'd0;
  localparam logic [1:0] DF_WS = 2'd1;
  localparam logic [1:0] DF_IS = 2'd2;

  // Operand width of a fold, per operand: 2, 4 or 8 bits (3 runs as 8).
  localparam logic [1:0] BITS_2 = 2'd0;
  localparam logic [1:0] BITS_4 = 2'd1;
  localparam logic [1:0] BITS_8 = 2'd2;

  // A weight x activation product of any mode fits 18 signed bits
  // (255 * 255 = 65025 < 2^17), and so does the sum of a word's products.
  localparam int TERM_BITS = 18;

  // How the 16 BitBricks of every PE fuse for a fold (decoded once per fold by
  // qsim_fusion_cfg and broadcast to the PEs). Brick b = 4*x + y of the 4 x 4 grid
  // multiplies weight digit wdig[b] by activation digit adig[b] (2-bit digits of
  // the words, least significant first), the digits signed when wsgn/asgn say so
  // (the top digit of a signed element); the product weighs 4^(ydig[y] + xdig[x]).
  typedef struct packed {
    logic [15:0][3:0] wdig;
    logic [15:0][3:0] adig;
    logic [15:0]      wsgn;
    logic [15:0]      asgn;
    logic [3:0][1:0]  xdig;      // the weight digit index of grid row x
    logic [3:0][1:0]  ydig;      // the activation digit index of grid column y
    logic             w_signed;  // the operands' signedness (the fixed PE's only configuration)
    logic             a_signed;
  } fusion_cfg_t;
  localparam int FUSION_CFG_BITS = 178;

  // One fold, as the driver queues it (qsim_fold_seq).
  typedef struct packed {
    logic [1:0]  dataflow;
    logic [1:0]  wmode;
    logic [1:0]  amode;
    logic        w_signed;
    logic        a_signed;
    logic        accumulate;  // ws/is: add the stored partial sums (not the first fold of a reduction)
    logic [15:0] rows;        // the active array: rows x cols of the top-left PEs
    logic [15:0] cols;
    logic [15:0] rows_used;   // PE rows / columns holding work
    logic [15:0] cols_used;
    logic [31:0] steps;       // streamed steps T (os: packs of the reduction)
  } fold_cmd_t;

endpackage
/* verilator lint_on UNUSEDPARAM */
