// Create a llama.cpp context as bench/bench_llamacpp_archs.py's child does, and let ~llama_context print its
// buffers ("CPU compute buffer size is N MiB"): a probe for llama.cpp builds newer than the one
// llama-cpp-python vendors. tests/fixtures/llamacpp_b11549.json was measured with it against b11549 (the
// thirdparty/llama.cpp of xllamacpp's 2026.10.11549 sdist), built for the CPU:
//   cmake -B build -DGGML_NATIVE=OFF && cmake --build build --target llama -j 2
//   c++ -O2 -std=c++17 bench/llamacpp_ctxprobe.cpp -I<llama.cpp>/include -I<llama.cpp>/ggml/include \
//       -L<llama.cpp>/build/bin -lllama -lggml -lggml-base -o ctxprobe
//   LD_LIBRARY_PATH=<llama.cpp>/build/bin ./ctxprobe model.gguf n_ctx n_ubatch n_seq fa type_k type_v \
//       kv_unified swa_full
// (type: 1 = f16, 8 = q8_0); the GGUFs come from bench/llamacpp_ggufs.py's recipes.
#include "llama.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
int main(int argc, char ** argv) {
    // args: model n_ctx n_ubatch n_seq fa(0/1) type_k(1=f16,8=q8_0) type_v kv_unified swa_full
    const char * model = argv[1];
    llama_backend_init();
    auto mp = llama_model_default_params();
    mp.use_extra_bufts = false;
    llama_model * mdl = llama_model_load_from_file(model, mp);
    if (!mdl) return 1;
    auto cp = llama_context_default_params();
    cp.n_ctx = atoi(argv[2]);
    cp.n_ubatch = atoi(argv[3]);
    cp.n_batch = cp.n_ubatch > 2048 ? cp.n_ubatch : 2048;
    cp.n_seq_max = atoi(argv[4]);
    cp.flash_attn_type = atoi(argv[5]) ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = (ggml_type) atoi(argv[6]);
    cp.type_v = (ggml_type) atoi(argv[7]);
    cp.kv_unified = atoi(argv[8]);
    cp.swa_full = atoi(argv[9]);
    llama_context * ctx = llama_init_from_model(mdl, cp);
    if (!ctx) return 2;
    llama_free(ctx);
    llama_model_free(mdl);
    return 0;
}
