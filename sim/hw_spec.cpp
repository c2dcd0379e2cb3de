#include "sim/hw_spec.h"

namespace qsim {

std::string_view dataflow_name(Dataflow d) {
  switch (d) {
    case Dataflow::kOS: return "os";
    case Dataflow::kWS: return "ws";
    case Dataflow::kIS: return "is";
  }
  return "?";
}

std::string_view pe_model_name(PeModel m) {
  switch (m) {
    case PeModel::kFixed: return "fixed";
    case PeModel::kBitFusion: return "bitfusion";
    case PeModel::kBitSerial: return "bitserial";
  }
  return "?";
}

}  // namespace qsim
