// qsim_bitbrick — one BitBrick (Bit Fusion, ISCA'18): a 2-bit x 2-bit multiplier
// whose inputs are each a 2-bit digit and a sign flag. With the flag set the digit
// is the signed top digit of a two's complement operand ([-2, 1]), else an
// unsigned digit ([0, 3]); the product is exact in 6 signed bits.
module qsim_bitbrick (
  input  logic [1:0] x,
  input  logic       x_signed,
  input  logic [1:0] y,
  input  logic       y_signed,
  output logic [5:0] p        // signed
);
  logic signed [5:0] xs, ys;
  assign xs = $signed({{4{x_signed & x[1]}}, x});
  assign ys = $signed({{4{y_signed & y[1]}}, y});
  assign p = xs * ys;
endmodule
