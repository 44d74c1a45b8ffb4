// kernels_q_avxvnni.cpp in EVEX encoding under the names of avxvnni_evex_twin.h (compiled with the AVX-512 flags).
#include "avxvnni_evex_twin.h"
// GCC 12's AVX-512 headers build their don't-care operands from self-initialised variables (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define BQ_AVXVNNI_EVEX_TWIN
#include "../../core/src/runtime/kernels_q_avxvnni.cpp"
