// fmt's compiled part (its src/format.cc: the definitions behind <fmt/format.h>
// plus the explicit instantiations that header declares extern), built into
// qsim_graph from the headers Debian's libfmt-dev ships. Debian has no libfmt.a,
// and linking libfmt.so would cost every qsim start a shared-object load; defining
// FMT_HEADER_ONLY instead would roughly double the compile time of every file that
// includes graph/error.h. Matches fmt 9.1 (Debian 12).
#include <fmt/format-inl.h>

static_assert(FMT_VERSION / 100 == 901, "graph/fmt_format.cpp mirrors fmt 9.1's src/format.cc: update it");

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                                 locale_ref);

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE
