#include "sim/hw_keys.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <type_traits>

#include <fmt/format.h>

#include "graph/error.h"

namespace qsim {

namespace {

constexpr std::string_view kRequired = "required";
constexpr int kMaxWidth = 32;  // the widest operand anywhere: pe.base_bits, pe.widths, energy.mac_pj keys

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

std::string format_number(double v) { return fmt::format("{}", v); }
std::string format_widths(const std::vector<int>& widths) { return fmt::format("[{}]", fmt::join(widths, ", ")); }

// ---------------------------------------------------------------- member access

template <typename E>
constexpr std::span<const std::string_view> names_of() {
  if constexpr (std::is_same_v<E, Dataflow>) return kDataflowNames;
  if constexpr (std::is_same_v<E, PeModel>) return kPeModelNames;
  if constexpr (std::is_same_v<E, SerialOperand>) return kSerialOperandNames;
}

template <typename T>
HwValue to_value(const T& v) {
  if constexpr (std::is_enum_v<T>)
    return std::string(names_of<T>()[static_cast<std::size_t>(v)]);
  else if constexpr (std::is_same_v<T, int>)
    return static_cast<int64_t>(v);
  else
    return v;
}

// The value's type was checked against the key's (value_problem); false when the
// value does not fit the field.
template <typename T>
bool from_value(const HwValue& v, T& out) {
  if constexpr (std::is_enum_v<T>) {
    const auto names = names_of<T>();
    const auto it = std::find(names.begin(), names.end(), std::get<std::string>(v));
    if (it == names.end()) return false;
    out = static_cast<T>(it - names.begin());
  } else if constexpr (std::is_same_v<T, int>) {
    const int64_t x = std::get<int64_t>(v);
    if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max()) return false;
    out = static_cast<int>(x);
  } else if constexpr (std::is_same_v<T, double>) {
    out = std::holds_alternative<int64_t>(v) ? static_cast<double>(std::get<int64_t>(v)) : std::get<double>(v);
  } else {
    out = std::get<T>(v);
  }
  return true;
}

template <auto Part, auto Field>
HwValue get_member(const HwSpec& s) {
  return to_value((s.*Part).*Field);
}

template <auto Part, auto Field>
bool set_member(HwSpec& s, const HwValue& v) {
  return from_value(v, (s.*Part).*Field);
}

HwValue get_name(const HwSpec& s) { return s.name; }
bool set_name(HwSpec& s, const HwValue& v) { return from_value(v, s.name); }

HwValue get_dram_bandwidth(const HwSpec& s) {
  if (s.memory.dram_unlimited) return std::string("unlimited");
  return s.memory.dram_bytes_per_cycle;
}
bool set_dram_bandwidth(HwSpec& s, const HwValue& v) {
  s.memory.dram_unlimited = std::holds_alternative<std::string>(v);
  s.memory.dram_bytes_per_cycle = 0.0;
  return s.memory.dram_unlimited || from_value(v, s.memory.dram_bytes_per_cycle);
}

HwValue get_mac_table(const HwSpec& s) {
  MacEnergyTable t;
  for (const auto& [w, pj] : s.energy.mac_pj) t[{w, w}] = pj;
  for (const auto& [wa, pj] : s.energy.mac_pj_pair) t[wa] = pj;
  return t;
}
bool set_mac_table(HwSpec& s, const HwValue& v) {
  s.energy.mac_pj.clear();
  s.energy.mac_pj_pair.clear();
  for (const auto& [wa, pj] : std::get<MacEnergyTable>(v)) {
    if (wa.first == wa.second)
      s.energy.mac_pj[wa.first] = pj;
    else
      s.energy.mac_pj_pair[wa] = pj;
  }
  return true;
}

// ---------------------------------------------------------------- defaults

std::vector<int> default_widths(PeModel model, int base_bits) {
  std::vector<int> w;
  if (base_bits < 1 || base_bits > kMaxWidth) return w;  // validation reports base_bits
  switch (model) {
    case PeModel::kFixed: w.push_back(base_bits); break;
    case PeModel::kBitFusion:
      for (int b = 2; b <= base_bits; b *= 2) w.push_back(b);
      break;
    case PeModel::kBitSerial:
      for (int b = 1; b <= base_bits; ++b) w.push_back(b);
      break;
  }
  return w;
}

// ---------------------------------------------------------------- rules between keys

void check_base_bits(const HwSpec& s, const HwSpecLocator& where) {
  const int base = s.pe.base_bits;
  if (s.pe.precision == PeModel::kBitFusion && (base < 2 || !is_power_of_two(base)))
    fail("{}: pe.base_bits must be a power of two >= 2 for pe.precision: bitfusion (2-bit bricks fuse into it), got {}",
         where.any({"pe.base_bits", "pe.precision"}), base);
}

void check_widths(const HwSpec& s, const HwSpecLocator& where) {
  const PeSpec& pe = s.pe;
  const int base = pe.base_bits;
  if (pe.widths.empty()) fail("{}: pe.widths must not be empty", where("pe.widths"));
  for (std::size_t i = 0; i < pe.widths.size(); ++i) {
    const int w = pe.widths[i];
    if (w <= 0) fail("{}: pe.widths entries must be positive, got {}", where("pe.widths"), w);
    if (i > 0 && w <= pe.widths[i - 1])
      fail("{}: pe.widths must be strictly ascending, got {}", where("pe.widths"), format_widths(pe.widths));
    if (w > base)
      fail("{}: pe.widths {} has {}, wider than pe.base_bits ({})", where.any({"pe.widths", "pe.base_bits"}),
           format_widths(pe.widths), w, base);
    if (pe.precision == PeModel::kBitFusion && (w < 2 || !is_power_of_two(w)))
      fail("{}: pe.widths for bitfusion must be powers of two >= 2 dividing pe.base_bits ({}), got {}",
           where.any({"pe.widths", "pe.precision"}), base, w);
  }
  if (pe.widths.back() != base)
    fail("{}: pe.widths {} must include pe.base_bits ({}): a PE always runs its full width",
         where.any({"pe.widths", "pe.base_bits"}), format_widths(pe.widths), base);
  if (pe.precision == PeModel::kFixed && pe.widths.size() != 1)
    fail(
        "{}: pe.widths must be [{}] for pe.precision: fixed (one width, pe.base_bits; narrower operands run at it), "
        "got {}",
        where.any({"pe.widths", "pe.precision", "pe.base_bits"}), base, format_widths(pe.widths));
}

constexpr int kMaxAccBits = 64;

void check_acc_bits(const HwSpec& s, const HwSpecLocator& where) {
  const int base = s.pe.base_bits;
  if (s.pe.acc_bits < 2 * base || s.pe.acc_bits > kMaxAccBits)
    fail("{}: pe.acc_bits must be between 2 * pe.base_bits ({}) and {}, got {}",
         where.any({"pe.acc_bits", "pe.base_bits"}), 2 * base, kMaxAccBits, s.pe.acc_bits);
}

std::string serial_inapplicable(const HwSpec& s) {
  if (s.pe.precision == PeModel::kBitSerial) return "";
  return fmt::format("pe.serial applies only to pe.precision: bitserial (this PE is {})",
                     pe_model_name(s.pe.precision));
}

// Entries for widths outside pe.widths are allowed and unused, so one table
// serves a sweep over pe.widths.
void check_mac_table(const HwSpec& s, const HwSpecLocator& where) {
  for (int w : s.pe.widths)
    if (!s.energy.mac_pj.contains(w))
      fail("{}: energy.mac_pj has no entry for width {} (pe.widths is {})",
           where.any({"energy.mac_pj", "pe.widths", "pe.base_bits", "pe.precision"}), w,
           format_widths(s.pe.widths));
}

// ---------------------------------------------------------------- the table

using Kind = HwRange::Kind;
constexpr HwRange positive(double max) { return {.kind = Kind::kPositive, .max = max}; }
constexpr HwRange kNonNegative{.kind = Kind::kNonNegative};
constexpr HwRange kKib{.kind = Kind::kPositive, .max = 1024.0 * 1024.0, .whole_bytes = true};  // up to 1 GiB

// Constant defaults are spelled in `default_value` and set by `fill_default`; a
// test checks that the two agree for every key.
constexpr HwKey kKeys[] = {
    {.key = "name",
     .type = HwType::kString,
     .meaning = "config name shown in reports",
     .required = false,
     .default_value = "file stem",
     .get = get_name,
     .set = set_name,
     .fill_default = [](HwSpec& s) { s.name = std::filesystem::path(s.source).stem().string(); }},
    {.key = "array.rows",
     .type = HwType::kInteger,
     .unit = "PEs",
     .meaning = "PE rows of the systolic array",
     .required = true,
     .default_value = kRequired,
     .range = positive(4096),
     .get = get_member<&HwSpec::array, &ArraySpec::rows>,
     .set = set_member<&HwSpec::array, &ArraySpec::rows>},
    {.key = "array.cols",
     .type = HwType::kInteger,
     .unit = "PEs",
     .meaning = "PE columns of the systolic array",
     .required = true,
     .default_value = kRequired,
     .range = positive(4096),
     .get = get_member<&HwSpec::array, &ArraySpec::cols>,
     .set = set_member<&HwSpec::array, &ArraySpec::cols>},
    {.key = "array.dataflow",
     .type = HwType::kChoice,
     .meaning = "output-, weight- or input-stationary",
     .required = true,
     .default_value = kRequired,
     .choices = kDataflowNames,
     .get = get_member<&HwSpec::array, &ArraySpec::dataflow>,
     .set = set_member<&HwSpec::array, &ArraySpec::dataflow>},
    {.key = "array.clock_mhz",
     .type = HwType::kNumber,
     .unit = "MHz",
     .meaning = "clock frequency",
     .required = true,
     .default_value = kRequired,
     .range = positive(10000),
     .get = get_member<&HwSpec::array, &ArraySpec::clock_mhz>,
     .set = set_member<&HwSpec::array, &ArraySpec::clock_mhz>},
    {.key = "pe.precision",
     .type = HwType::kChoice,
     .meaning = "PE model (see PE models below)",
     .required = true,
     .default_value = kRequired,
     .choices = kPeModelNames,
     .get = get_member<&HwSpec::pe, &PeSpec::precision>,
     .set = set_member<&HwSpec::pe, &PeSpec::precision>},
    {.key = "pe.base_bits",
     .type = HwType::kInteger,
     .unit = "bits",
     .meaning = "multiplier width B (bitserial: the widest operand)",
     .required = false,
     .default_value = "8",
     .range = positive(kMaxWidth),
     .range_note = "bitfusion: a power of two >= 2",
     .get = get_member<&HwSpec::pe, &PeSpec::base_bits>,
     .set = set_member<&HwSpec::pe, &PeSpec::base_bits>,
     .fill_default = [](HwSpec& s) { s.pe.base_bits = 8; },
     .check = check_base_bits},
    {.key = "pe.widths",
     .type = HwType::kIntegerList,
     .unit = "bits",
     .meaning = "operand widths the PE runs; narrower operands round up to the next listed width",
     .required = false,
     .default_value = "fixed: [B]; bitfusion: [2, 4, ..., B]; bitserial: [1, 2, ..., B]",
     .range_note = "each 1..B, ending with B; fixed: [B]; bitfusion: powers of two >= 2",
     .get = get_member<&HwSpec::pe, &PeSpec::widths>,
     .set = set_member<&HwSpec::pe, &PeSpec::widths>,
     .fill_default = [](HwSpec& s) { s.pe.widths = default_widths(s.pe.precision, s.pe.base_bits); },
     .check = check_widths},
    {.key = "pe.acc_bits",
     .type = HwType::kInteger,
     .unit = "bits",
     .meaning = "accumulator width",
     .required = false,
     .default_value = "32",
     .range_note = "2 x B..64",
     .get = get_member<&HwSpec::pe, &PeSpec::acc_bits>,
     .set = set_member<&HwSpec::pe, &PeSpec::acc_bits>,
     .fill_default = [](HwSpec& s) { s.pe.acc_bits = 32; },
     .check = check_acc_bits},
    {.key = "pe.serial",
     .type = HwType::kChoice,
     .meaning = "bitserial only: which operand is streamed bit by bit",
     .required = false,
     .default_value = "activation",
     .choices = kSerialOperandNames,
     .get = get_member<&HwSpec::pe, &PeSpec::serial>,
     .set = set_member<&HwSpec::pe, &PeSpec::serial>,
     .fill_default = [](HwSpec& s) { s.pe.serial = SerialOperand::kActivation; },
     .inapplicable = serial_inapplicable,
     .applies_by = "pe.precision"},
    {.key = "memory.ifmap_kib",
     .type = HwType::kNumber,
     .unit = "KiB",
     .meaning = "input-feature-map SRAM in KiB (1 KiB = 1024 bytes)",
     .required = true,
     .default_value = kRequired,
     .range = kKib,
     .get = get_member<&HwSpec::memory, &MemorySpec::ifmap_kib>,
     .set = set_member<&HwSpec::memory, &MemorySpec::ifmap_kib>},
    {.key = "memory.filter_kib",
     .type = HwType::kNumber,
     .unit = "KiB",
     .meaning = "filter (weight) SRAM",
     .required = true,
     .default_value = kRequired,
     .range = kKib,
     .get = get_member<&HwSpec::memory, &MemorySpec::filter_kib>,
     .set = set_member<&HwSpec::memory, &MemorySpec::filter_kib>},
    {.key = "memory.ofmap_kib",
     .type = HwType::kNumber,
     .unit = "KiB",
     .meaning = "output-feature-map SRAM",
     .required = true,
     .default_value = kRequired,
     .range = kKib,
     .get = get_member<&HwSpec::memory, &MemorySpec::ofmap_kib>,
     .set = set_member<&HwSpec::memory, &MemorySpec::ofmap_kib>},
    {.key = "memory.banks",
     .type = HwType::kInteger,
     .meaning = "SRAM banks per buffer",
     .required = false,
     .default_value = "1",
     .range = {.kind = Kind::kPositive, .max = 1024, .power_of_two = true},
     .get = get_member<&HwSpec::memory, &MemorySpec::banks>,
     .set = set_member<&HwSpec::memory, &MemorySpec::banks>,
     .fill_default = [](HwSpec& s) { s.memory.banks = 1; }},
    {.key = "memory.double_buffer",
     .type = HwType::kBool,
     .meaning = "each buffer is split in two halves: fill one while the array reads the other",
     .required = false,
     .default_value = "true",
     .get = get_member<&HwSpec::memory, &MemorySpec::double_buffer>,
     .set = set_member<&HwSpec::memory, &MemorySpec::double_buffer>,
     .fill_default = [](HwSpec& s) { s.memory.double_buffer = true; }},
    {.key = "memory.dram_bytes_per_cycle",
     .type = HwType::kNumberOrUnlimited,
     .unit = "bytes/cycle",
     .meaning = "DRAM bandwidth per array cycle; unlimited = never stall (SCALE-Sim CALC)",
     .required = true,
     .default_value = kRequired,
     .range = positive(1e6),
     .get = get_dram_bandwidth,
     .set = set_dram_bandwidth},
    {.key = "memory.dram_latency_cycles",
     .type = HwType::kInteger,
     .unit = "cycles",
     .meaning = "from a DRAM request to its first byte",
     .required = false,
     .default_value = "0",
     .range = {.kind = Kind::kBetween, .min = 0, .max = 1e6},
     .get = get_member<&HwSpec::memory, &MemorySpec::dram_latency_cycles>,
     .set = set_member<&HwSpec::memory, &MemorySpec::dram_latency_cycles>,
     .fill_default = [](HwSpec& s) { s.memory.dram_latency_cycles = 0; }},
    {.key = "memory.word_bits",
     .type = HwType::kInteger,
     .unit = "bits",
     .meaning = "SRAM/DRAM word width",
     .required = false,
     .default_value = "8",
     .range = {.kind = Kind::kBetween, .min = 8, .max = 1024, .power_of_two = true},
     .get = get_member<&HwSpec::memory, &MemorySpec::word_bits>,
     .set = set_member<&HwSpec::memory, &MemorySpec::word_bits>,
     .fill_default = [](HwSpec& s) { s.memory.word_bits = 8; }},
    {.key = "memory.pack_narrow",
     .type = HwType::kBool,
     .meaning = "narrow operands share a word (2 x 4-bit per byte); false: one operand per word",
     .required = false,
     .default_value = "true",
     .get = get_member<&HwSpec::memory, &MemorySpec::pack_narrow>,
     .set = set_member<&HwSpec::memory, &MemorySpec::pack_narrow>,
     .fill_default = [](HwSpec& s) { s.memory.pack_narrow = true; }},
    {.key = "energy.mac_pj",
     .type = HwType::kMacTable,
     .unit = "pJ",
     .meaning = "energy of one w x w MAC; optional \"WxA\" keys (weights x activations) for mixed pairs",
     .required = false,
     .default_value = "0.23 * (w/8)^2 for each w in pe.widths",
     .range = kNonNegative,
     .range_note = "an entry for every width of pe.widths",
     .get = get_mac_table,
     .set = set_mac_table,
     .fill_default =
         [](HwSpec& s) {
           s.energy.mac_pj = default_energy_spec(s.pe).mac_pj;
           s.energy.mac_pj_pair.clear();
         },
     .check = check_mac_table},
    {.key = "energy.sram_read_pj_per_byte",
     .type = HwType::kNumber,
     .unit = "pJ/byte",
     .meaning = "SRAM read energy per byte",
     .required = false,
     .default_value = "2.5",
     .range = kNonNegative,
     .get = get_member<&HwSpec::energy, &EnergySpec::sram_read_pj_per_byte>,
     .set = set_member<&HwSpec::energy, &EnergySpec::sram_read_pj_per_byte>,
     .fill_default =
         [](HwSpec& s) { s.energy.sram_read_pj_per_byte = default_energy_spec(s.pe).sram_read_pj_per_byte; }},
    {.key = "energy.sram_write_pj_per_byte",
     .type = HwType::kNumber,
     .unit = "pJ/byte",
     .meaning = "SRAM write energy per byte",
     .required = false,
     .default_value = "2.5",
     .range = kNonNegative,
     .get = get_member<&HwSpec::energy, &EnergySpec::sram_write_pj_per_byte>,
     .set = set_member<&HwSpec::energy, &EnergySpec::sram_write_pj_per_byte>,
     .fill_default =
         [](HwSpec& s) { s.energy.sram_write_pj_per_byte = default_energy_spec(s.pe).sram_write_pj_per_byte; }},
    {.key = "energy.dram_pj_per_byte",
     .type = HwType::kNumber,
     .unit = "pJ/byte",
     .meaning = "DRAM access energy per byte",
     .required = false,
     .default_value = "160",
     .range = kNonNegative,
     .get = get_member<&HwSpec::energy, &EnergySpec::dram_pj_per_byte>,
     .set = set_member<&HwSpec::energy, &EnergySpec::dram_pj_per_byte>,
     .fill_default = [](HwSpec& s) { s.energy.dram_pj_per_byte = default_energy_spec(s.pe).dram_pj_per_byte; }},
    {.key = "energy.vector_op_pj",
     .type = HwType::kNumber,
     .unit = "pJ",
     .meaning = "one element through the vector unit (requantization, Add, pooling)",
     .required = false,
     .default_value = "3.2",
     .range = kNonNegative,
     .get = get_member<&HwSpec::energy, &EnergySpec::vector_op_pj>,
     .set = set_member<&HwSpec::energy, &EnergySpec::vector_op_pj>,
     .fill_default = [](HwSpec& s) { s.energy.vector_op_pj = default_energy_spec(s.pe).vector_op_pj; }},
    {.key = "vector.lanes",
     .type = HwType::kInteger,
     .unit = "elements/cycle",
     .meaning = "elements the vector unit processes per cycle",
     .required = false,
     .default_value = "array.cols",
     .range = positive(65536),
     .get = get_member<&HwSpec::vector, &VectorSpec::lanes>,
     .set = set_member<&HwSpec::vector, &VectorSpec::lanes>,
     .fill_default = [](HwSpec& s) { s.vector.lanes = s.array.cols; }},
    {.key = "vector.fuse_elementwise",
     .type = HwType::kBool,
     .meaning = "Add and activations run in the producing layer's output stage",
     .required = false,
     .default_value = "true",
     .get = get_member<&HwSpec::vector, &VectorSpec::fuse_elementwise>,
     .set = set_member<&HwSpec::vector, &VectorSpec::fuse_elementwise>,
     .fill_default = [](HwSpec& s) { s.vector.fuse_elementwise = true; }},
    {.key = "mapping.chunking",
     .type = HwType::kBool,
     .meaning = "ws/is: split the streamed dimension so partial sums stay on chip when that is faster "
                "(false: SCALE-Sim's folds)",
     .required = false,
     .default_value = "false",
     .get = get_member<&HwSpec::mapping, &MappingSpec::chunking>,
     .set = set_member<&HwSpec::mapping, &MappingSpec::chunking>,
     .fill_default = [](HwSpec& s) { s.mapping.chunking = false; }},
};

// ---------------------------------------------------------------- table entries

// The table key an entry belongs to ("energy.mac_pj" for "energy.mac_pj.4"), or null.
const HwKey* table_of(std::string_view key) {
  for (const HwKey& k : kKeys)
    if (k.type == HwType::kMacTable && key.size() > k.key.size() + 1 && key.starts_with(k.key) &&
        key[k.key.size()] == '.')
      return &k;
  return nullptr;
}

std::optional<int64_t> parse_integer(std::string_view s) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);  // YAML allows a leading '+'
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_number(std::string_view s) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// "8" -> {8, 8}; "2x8" -> {2, 8} (weights x activations).
std::optional<std::pair<int, int>> parse_mac_key(std::string_view k) {
  auto width = [](std::string_view s) -> std::optional<int> {
    const auto v = parse_integer(s);
    if (!v || *v < 1 || *v > kMaxWidth) return std::nullopt;
    return static_cast<int>(*v);
  };
  const auto x = k.find('x');
  if (x == std::string_view::npos) {
    const auto w = width(k);
    return w ? std::optional(std::pair{*w, *w}) : std::nullopt;
  }
  const auto w = width(k.substr(0, x));
  const auto a = width(k.substr(x + 1));
  return w && a ? std::optional(std::pair{*w, *a}) : std::nullopt;
}

std::string entry_name(const HwKey& table, std::pair<int, int> wa) {
  return wa.first == wa.second ? fmt::format("{}.{}", table.key, wa.first)
                               : fmt::format("{}.{}x{}", table.key, wa.first, wa.second);
}

// The entry a table-entry key names, or the problem with its name.
std::pair<int, int> entry_of(const HwKey& table, std::string_view key, const std::string& where) {
  const std::string_view sub = key.substr(table.key.size() + 1);
  const auto wa = parse_mac_key(sub);
  if (!wa)
    fail("{}{}{} key '{}' must be a width (e.g. 8) or a weights x activations pair (e.g. 2x8)", where,
         where.empty() ? "" : ": ", table.key, sub);
  if (wa->first == wa->second && sub.find('x') != std::string_view::npos)
    fail("{}{}{}: a {}x{} MAC is {}; give it there", where, where.empty() ? "" : ": ", key, wa->first, wa->second,
         entry_name(table, *wa));
  return *wa;
}

// ---------------------------------------------------------------- value types

// What a value is, for "must be X, got Y" messages.
std::string describe(const HwValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        if constexpr (std::is_same_v<T, int64_t>) return fmt::format("{}", x);
        if constexpr (std::is_same_v<T, double>) return format_number(x);
        if constexpr (std::is_same_v<T, std::string>) return fmt::format("'{}'", x);
        if constexpr (std::is_same_v<T, std::vector<int>>) return "a list";
        if constexpr (std::is_same_v<T, MacEnergyTable>) return "a mapping";
      },
      v);
}

std::string describe(const HwText& t) {
  switch (t.kind) {
    case HwText::Kind::kNone: return "no value";
    case HwText::Kind::kList: return "a list";
    case HwText::Kind::kMap: return "a mapping";
    case HwText::Kind::kScalar: break;
  }
  if (t.tag == "!") return fmt::format("the quoted string \"{}\"", t.scalar);
  if (!t.tag.empty()) return fmt::format("'{}' tagged {}", t.scalar, t.tag);
  return fmt::format("'{}'", t.scalar);
}

// "must be <expected>" for each type.
std::string expected(const HwKey& k) {
  switch (k.type) {
    case HwType::kString: return "a non-empty string";
    case HwType::kInteger: return "an integer";
    case HwType::kNumber: return "a number";
    case HwType::kBool: return "true or false";
    case HwType::kChoice: return fmt::format("one of {}", fmt::join(k.choices, ", "));
    case HwType::kNumberOrUnlimited: return "a number or unlimited";
    case HwType::kIntegerList: return "a list of integers, e.g. [2, 4, 8]";
    case HwType::kMacTable: return "a mapping from width to pJ (e.g. {8: 0.23})";
  }
  return "?";
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Why `v` cannot be `k`'s value ("" when it can).
std::string value_problem(const HwKey& k, std::string_view key, const HwValue& v) {
  const auto* text = std::get_if<std::string>(&v);
  const bool number = std::holds_alternative<double>(v) || std::holds_alternative<int64_t>(v);
  bool ok = false;
  switch (k.type) {
    case HwType::kString:
      if (text && has_control_chars(*text))
        return fmt::format("{} must be a string without control characters, got {}", key, describe(v));
      ok = text && !text->empty();
      break;
    case HwType::kInteger: ok = std::holds_alternative<int64_t>(v); break;
    case HwType::kNumber: ok = number; break;
    case HwType::kBool: ok = std::holds_alternative<bool>(v); break;
    case HwType::kChoice: ok = text && std::find(k.choices.begin(), k.choices.end(), *text) != k.choices.end(); break;
    case HwType::kNumberOrUnlimited: ok = number || (text && *text == "unlimited"); break;
    case HwType::kIntegerList: ok = std::holds_alternative<std::vector<int>>(v); break;
    case HwType::kMacTable:
      if (const auto* t = std::get_if<MacEnergyTable>(&v)) {
        for (const auto& [wa, pj] : *t)
          if (wa.first < 1 || wa.first > kMaxWidth || wa.second < 1 || wa.second > kMaxWidth)
            return fmt::format("{} entry {}x{} must have widths from 1 to {}", key, wa.first, wa.second, kMaxWidth);
        ok = true;
      }
      break;
  }
  return ok ? "" : fmt::format("{} must be {}, got {}", key, expected(k), describe(v));
}

// Sets `key` (a key or a table entry) on `s`; the problem when it cannot.
std::string set_problem(HwSpec& s, std::string_view key, const HwValue& v) {
  if (const HwKey* k = find_hw_key(key)) {
    if (std::string p = value_problem(*k, key, v); !p.empty()) return p;
    if (!k->set(s, v)) return fmt::format("{} is out of range, got {}", key, describe(v));
    return "";
  }
  if (const HwKey* table = table_of(key)) {
    std::pair<int, int> wa;
    try {
      wa = entry_of(*table, key, "");
    } catch (const Error& e) {
      return e.what();
    }
    if (!std::holds_alternative<double>(v) && !std::holds_alternative<int64_t>(v))
      return fmt::format("{} must be a number, got {}", key, describe(v));
    double pj = 0;
    from_value(v, pj);
    if (wa.first == wa.second)
      s.energy.mac_pj[wa.first] = pj;
    else
      s.energy.mac_pj_pair[wa] = pj;
    return "";
  }
  return hw_unknown_key(key);
}

// ---------------------------------------------------------------- typing text

[[noreturn]] void type_error(std::string_view key, const HwText& t, std::string_view what) {
  fail("{}: {} must be {}, got {}", t.where, key, what, describe(t));
}

bool is_plain(const HwText& t) { return t.kind == HwText::Kind::kScalar && t.tag.empty(); }

int64_t integer_from(std::string_view key, const HwText& t) {
  if (!is_plain(t)) type_error(key, t, "an integer");
  if (const auto v = parse_integer(t.scalar)) return *v;
  if (const auto x = parse_number(t.scalar)) {
    if (std::floor(*x) == *x && t.scalar.find_first_of(".eE") == std::string::npos)
      fail("{}: {} is out of range, got {}", t.where, key, t.scalar);
    fail("{}: {} must be an integer, got {}", t.where, key, t.scalar);
  }
  type_error(key, t, "an integer");
}

double number_from(std::string_view key, const HwText& t) {
  if (!is_plain(t)) type_error(key, t, "a number");
  const auto v = parse_number(t.scalar);
  if (!v) type_error(key, t, "a number");
  return *v;
}

// YAML 1.1's spellings, as yaml-cpp reads them: y/yes/true/on, n/no/false/off, in
// lower case, upper case or capitalised.
std::optional<bool> parse_bool(std::string_view s) {
  const auto all = [](std::string_view x, auto pred) { return std::all_of(x.begin(), x.end(), pred); };
  const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  const auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (s.empty() || !(all(s, lower) || (upper(s[0]) && (all(s.substr(1), lower) || all(s.substr(1), upper)))))
    return std::nullopt;
  std::string l(s);
  for (char& c : l) c = upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
  for (std::string_view t : {"y", "yes", "true", "on"})
    if (l == t) return true;
  for (std::string_view f : {"n", "no", "false", "off"})
    if (l == f) return false;
  return std::nullopt;
}

MacEnergyTable table_from(const HwKey& k, const HwText& t) {
  if (t.kind != HwText::Kind::kMap) type_error(k.key, t, expected(k));
  MacEnergyTable table;
  for (const auto& [sub, value] : t.entries) {
    const std::string key = fmt::format("{}.{}", k.key, sub);
    const auto wa = entry_of(k, key, value.where);
    if (table.contains(wa))
      fail("{}: {} gives the energy of a {}x{} MAC a second time", value.where, key, wa.first, wa.second);
    table[wa] = number_from(key, value);
  }
  return table;
}

std::vector<int> widths_from(std::string_view key, const HwText& t) {
  if (t.kind != HwText::Kind::kList) type_error(key, t, "a list of integers, e.g. [2, 4, 8]");
  std::vector<int> out;
  for (const HwText& item : t.items) {
    const auto v = is_plain(item) ? parse_integer(item.scalar) : std::nullopt;
    if (!v) fail("{}: {} must be a list of integers, got an element {}", t.where, key, describe(item));
    if (*v <= 0 || *v > kMaxWidth) fail("{}: {} entries must be between 1 and {}, got {}", t.where, key, kMaxWidth, *v);
    out.push_back(static_cast<int>(*v));
  }
  if (out.empty()) fail("{}: {} must not be empty", t.where, key);
  std::sort(out.begin(), out.end());
  if (const auto dup = std::adjacent_find(out.begin(), out.end()); dup != out.end())
    fail("{}: {} lists {} twice", t.where, key, *dup);
  return out;
}

// ---------------------------------------------------------------- validation

template <typename T>
std::string show(T v) {
  if constexpr (std::is_same_v<T, double>)
    return format_number(v);
  else
    return fmt::format("{}", v);
}

template <typename T>
void check_range(std::string_view key, T v, const HwRange& r, std::string_view unit, const std::string& where) {
  constexpr bool kIntegral = std::is_integral_v<T>;
  const auto limit = [](double x) { return show(static_cast<T>(x)); };
  // A number's limit names its unit ("at most 10000 MHz"); an integer's is a count.
  const std::string unit_suffix = !kIntegral && !unit.empty() ? fmt::format(" {}", unit) : "";
  const auto pow2 = [&] {
    if constexpr (std::is_integral_v<T>) return is_power_of_two(v);
    return true;
  };
  switch (r.kind) {
    case Kind::kAny: break;
    case Kind::kPositive:
      if (!std::isfinite(static_cast<double>(v)) || v <= 0)
        fail("{}: {} must be positive, got {}", where, key, show(v));
      if (v > r.max) fail("{}: {} must be at most {}{}, got {}", where, key, limit(r.max), unit_suffix, show(v));
      if (r.power_of_two && !pow2()) fail("{}: {} must be a power of two, got {}", where, key, show(v));
      if (r.whole_bytes && v * 1024.0 != std::floor(v * 1024.0))
        fail("{}: {} must be a whole number of bytes (a multiple of 1/1024 KiB), got {}", where, key, show(v));
      break;
    case Kind::kNonNegative:
      if (!std::isfinite(static_cast<double>(v)) || v < 0)
        fail("{}: {} must be zero or positive ({}), got {}", where, key, unit, show(v));
      break;
    case Kind::kBetween:
      if (r.power_of_two && (v < r.min || v > r.max || !pow2()))
        fail("{}: {} must be a power of two from {} to {}, got {}", where, key, limit(r.min), limit(r.max), show(v));
      if (v < r.min || v > r.max)
        fail("{}: {} must be between {} and {}, got {}", where, key, limit(r.min), limit(r.max), show(v));
      break;
  }
}

void check_key_range(const HwKey& k, const HwSpec& s, const HwSpecLocator& where) {
  if (k.range.kind == Kind::kAny) return;
  const HwValue v = k.get(s);
  if (const auto* i = std::get_if<int64_t>(&v)) check_range(k.key, *i, k.range, k.unit, where(k.key));
  if (const auto* d = std::get_if<double>(&v)) check_range(k.key, *d, k.range, k.unit, where(k.key));
  if (const auto* t = std::get_if<MacEnergyTable>(&v)) {
    // Same-width entries first, then pairs: the order a file lists them in.
    for (const bool same : {true, false})
      for (const auto& [wa, pj] : *t)
        if ((wa.first == wa.second) == same) {
          const std::string key = entry_name(k, wa);
          check_range(key, pj, k.range, k.unit, where(key));
        }
  }
}

}  // namespace

// ---------------------------------------------------------------- the registry

std::span<const HwKey> hw_spec_keys() { return kKeys; }

const HwKey* find_hw_key(std::string_view key) {
  for (const HwKey& k : kKeys)
    if (k.key == key) return &k;
  return nullptr;
}

bool is_hw_table_entry(std::string_view key) { return table_of(key) != nullptr; }

bool is_hw_section(std::string_view name) {
  if (name.empty() || name.find('.') != std::string_view::npos) return false;
  return std::any_of(std::begin(kKeys), std::end(kKeys), [&](const HwKey& k) {
    return k.key.size() > name.size() && k.key.starts_with(name) && k.key[name.size()] == '.';
  });
}

// Compared with full dotted keys, so "memory.rows" suggests array.rows and a bare
// "rows" does too.
std::string hw_unknown_key(std::string_view key, bool sections_allowed) {
  std::string_view best;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  const auto consider = [&](std::string_view candidate, std::size_t d) {
    if (d < best_d) {
      best_d = d;
      best = candidate;
    }
  };
  for (const HwKey& k : kKeys) {
    const auto dot = k.key.find('.');
    // A bare leaf ("rows") or section ("array") stands for its dotted key ("array.rows").
    const bool leaf = dot != std::string_view::npos && key == k.key.substr(dot + 1);
    const bool section = dot != std::string_view::npos && key == k.key.substr(0, dot);
    consider(k.key, leaf || (section && !sections_allowed) ? 0 : name_distance(key, k.key));
  }
  if (sections_allowed && key.find('.') == std::string_view::npos)  // a misspelt section ("memroy:")
    for (const HwKey& k : kKeys)
      if (const auto dot = k.key.find('.'); dot != std::string_view::npos)
        consider(k.key.substr(0, dot), name_distance(key, k.key.substr(0, dot)));
  return fmt::format("unknown key {} (did you mean {}?)", key, best);
}

std::string hw_type_name(const HwKey& k) {
  switch (k.type) {
    case HwType::kString: return "string";
    case HwType::kInteger: return "integer";
    case HwType::kNumber: return "number";
    case HwType::kBool: return "bool";
    case HwType::kChoice: {
      std::string out;
      for (std::size_t i = 0; i < k.choices.size(); ++i)
        out += fmt::format("{}{}", i == 0 ? "" : i + 1 == k.choices.size() ? " or " : ", ", k.choices[i]);
      return out;
    }
    case HwType::kNumberOrUnlimited: return "number or unlimited";
    case HwType::kIntegerList: return "list of integers";
    case HwType::kMacTable: return "map width -> pJ";
  }
  return "?";
}

std::string hw_range_text(const HwKey& k) {
  const HwRange& r = k.range;
  const bool integral = k.type == HwType::kInteger;
  const auto n = [](double x) { return format_number(x); };
  std::string out;
  switch (r.kind) {
    case Kind::kAny: break;
    case Kind::kPositive:
      out = integral ? fmt::format("1..{}", n(r.max)) : fmt::format("(0, {}]", n(r.max));
      break;
    case Kind::kNonNegative: out = ">= 0"; break;
    case Kind::kBetween: out = fmt::format("{}..{}", n(r.min), n(r.max)); break;
  }
  if (r.power_of_two) out = "a power of two, " + out;
  if (r.whole_bytes) out += ", whole bytes";
  if (!k.range_note.empty()) out += (out.empty() ? "" : "; ") + std::string(k.range_note);
  return out;
}

std::string hw_keys_markdown() {
  const auto cell = [](std::string_view s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string out = "| key | type | default | range | unit | meaning |\n|---|---|---|---|---|---|\n";
  for (const HwKey& k : kKeys)
    out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", k.key, cell(hw_type_name(k)), cell(k.default_value),
                       cell(hw_range_text(k)), cell(k.unit), cell(k.meaning));
  return out;
}

HwValue hw_get(const HwSpec& spec, std::string_view key) {
  if (const HwKey* k = find_hw_key(key)) return k->get(spec);
  if (const HwKey* table = table_of(key)) {
    const auto wa = entry_of(*table, key, "");
    const MacEnergyTable t = std::get<MacEnergyTable>(table->get(spec));
    const auto it = t.find(wa);
    if (it == t.end()) fail("{} has no entry {}", table->key, key.substr(table->key.size() + 1));
    return it->second;
  }
  fail("{}", hw_unknown_key(key));
}

void hw_set(HwSpec& spec, std::string_view key, const HwValue& value) {
  if (const std::string p = set_problem(spec, key, value); !p.empty()) fail("{}", p);
}

std::string HwSpecLocator::any(std::initializer_list<std::string_view> keys) const {
  for (std::string_view k : keys)
    if (std::string w = (*this)(k); w.starts_with("--set ")) return w;
  for (std::string_view k : keys)
    if (std::string w = (*this)(k); w != spec_.source) return w;
  return spec_.source;
}

void validate_hw_spec(const HwSpec& spec, const HwKeyLocator& where) {
  const HwSpecLocator locate(spec, where);
  for (const HwKey& k : kKeys) {
    check_key_range(k, spec, locate);
    // A key that does not apply must keep its default (it would not be written back).
    if (k.inapplicable)
      if (const std::string why = k.inapplicable(spec); !why.empty()) {
        HwSpec d = spec;
        k.fill_default(d);
        if (k.get(d) != k.get(spec)) fail("{}: {}", locate.any({k.key, k.applies_by}), why);
      }
    if (k.check) k.check(spec, locate);
  }
}

HwValue hw_value_from_text(std::string_view key, const HwText& t) {
  if (is_hw_table_entry(key)) {
    entry_of(*table_of(key), key, t.where);
    return number_from(key, t);
  }
  const HwKey* k = find_hw_key(key);
  if (!k) fail("{}: {}", t.where, hw_unknown_key(key));
  switch (k->type) {
    case HwType::kString:
      if (t.kind != HwText::Kind::kScalar || t.scalar.empty()) type_error(key, t, expected(*k));
      if (has_control_chars(t.scalar)) type_error(key, t, "a string without control characters");
      return t.scalar;
    case HwType::kInteger: return integer_from(key, t);
    case HwType::kNumber: return number_from(key, t);
    case HwType::kBool:
      if (is_plain(t))
        if (const auto b = parse_bool(t.scalar)) return *b;
      type_error(key, t, expected(*k));
    case HwType::kChoice:
      if (t.kind == HwText::Kind::kScalar &&
          std::find(k->choices.begin(), k->choices.end(), t.scalar) != k->choices.end())
        return t.scalar;
      type_error(key, t, expected(*k));
    case HwType::kNumberOrUnlimited:
      if (t.kind == HwText::Kind::kScalar && t.scalar == "unlimited") return t.scalar;
      if (!is_plain(t) || !parse_number(t.scalar)) type_error(key, t, expected(*k));
      return number_from(key, t);
    case HwType::kIntegerList: return widths_from(key, t);
    case HwType::kMacTable: return table_from(*k, t);
  }
  fail("{}: {}: unhandled type", t.where, key);
}

void hw_state(HwConfig& config, std::string_view key, const HwValue& value, std::string where) {
  if (const std::string p = set_problem(config.spec, key, value); !p.empty()) fail("{}: {}", where, p);
  const HwKey* k = find_hw_key(key);
  if (k && k->type == HwType::kMacTable) {  // a whole table replaces the entries stated before it
    const std::string prefix = std::string(key) + ".";
    std::erase_if(config.stated, [&](const auto& e) { return e.first.starts_with(prefix); });
  }
  const std::string name = k ? std::string(key) : entry_name(*table_of(key), entry_of(*table_of(key), key, ""));
  config.stated[name] = std::move(where);
}

void hw_state_text(HwConfig& config, std::string_view key, const HwText& text) {
  hw_state(config, key, hw_value_from_text(key, text), text.where);
  const HwKey* k = find_hw_key(key);
  if (k && k->type == HwType::kMacTable)  // each entry keeps its own line for messages
    for (const auto& [sub, value] : text.entries) {
      const std::string entry = fmt::format("{}.{}", key, sub);
      config.stated[entry_name(*k, entry_of(*k, entry, value.where))] = value.where;
    }
}

HwSpec finish_hw_spec(const HwConfig& config) {
  const HwSpec& given = config.spec;
  for (const HwKey& k : kKeys)
    if (k.required && !config.stated.contains(k.key))
      fail("{}: missing required key {}: {}", given.source, k.key, k.meaning);

  HwSpec spec = given;
  for (const HwKey& k : kKeys)
    if (!k.required && !config.stated.contains(k.key)) k.fill_default(spec);
  // Entries stated one by one stay over a default table.
  for (const auto& [key, where] : config.stated)
    if (is_hw_table_entry(key)) hw_set(spec, key, hw_get(given, key));

  const HwKeyLocator where = [&config](std::string_view key) -> std::string {
    if (const auto it = config.stated.find(key); it != config.stated.end()) return it->second;
    if (const HwKey* table = table_of(key))
      if (const auto it = config.stated.find(table->key); it != config.stated.end()) return it->second;
    return config.spec.source;
  };
  const HwSpecLocator locate(spec, where);
  for (const HwKey& k : kKeys)
    if (k.inapplicable && config.stated.contains(k.key))
      if (const std::string why = k.inapplicable(spec); !why.empty())
        fail("{}: {}", locate.any({k.key, k.applies_by}), why);
  validate_hw_spec(spec, where);
  spec.places.stated = std::make_shared<const std::map<std::string, std::string, std::less<>>>(config.stated);
  return spec;
}

}  // namespace qsim
