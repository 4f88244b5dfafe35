"""Runtime profiles: what one engine allocates beside the weights, one module per engine, one row each.

Each profile resolves the engine's own parameters the way the engine does (padding, defaults), asks
analyses/sizing/kv_cache.py for the cache with the cells that engine holds per layer kind, and adds the
engine's buffers; every formula cites the engine's source and is checked against its log (bench/).

``RUNTIMES`` is the one place a runtime is named: its module (holding ``parts``, the adapter
``memory.estimate`` calls), the options it takes (the CLI's flags, the web form's fields and the API's
keyword arguments are generated from them) and its aliases. A new runtime is a module and a row.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from paramscope.errors import UsageError
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.sizing.loaded import EngineBuild
    from paramscope.analyses.sizing.request import MemoryRequest, RuntimeParts
    from paramscope.model import ArchConfig, Model

Adapter = Callable[["Model", "ArchConfig", int, "MemoryRequest", int], "RuntimeParts"]
ContextPicker = Callable[["Model", "ArchConfig", int, "MemoryRequest", Adapter],
                         "tuple[int | None, str, tuple[str, ...]] | None"]


@record
class Option:
    """One engine setting, named as the engine's own flag is (without dashes)."""

    name: str  # Python name; the CLI flag is --name-with-dashes
    kind: type  # int, float, bool or str (with choices)
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()  # kind str: the values allowed
    metavar: str = ""  # how --help writes the value (default: the kind, INT, FLOAT, STR)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """The value converted to ``kind`` and range-checked; a one-line UsageError otherwise."""
        try:
            v = _parse_bool(value) if self.kind is bool else self.kind(value)
        except (TypeError, ValueError):
            raise UsageError(f"{self.flag} takes {self.kind.__name__} (found {value!r})") from None
        if (self.minimum is not None and v < self.minimum) or (self.maximum is not None and v > self.maximum):
            raise UsageError(f"{self.flag} must be between {_number(self.minimum)} and "
                             f"{_number(self.maximum)} (found {v})")
        if self.choices and v not in self.choices:
            raise UsageError(f"{self.flag} takes one of {', '.join(self.choices)} (found {v!r})")
        return v


@record
class Runtime:
    """A runtime paramscope sizes: its name, module, summary and options."""

    name: str  # as users write it: "llama.cpp", "vllm", "transformers"
    module: str  # module in this package holding ``parts`` (dotted for an engine with a package of its own)
    summary: str
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    # the option naming the release whose weight layout the runtime follows (loaded.py: vLLM's MXFP4
    # padding and its GPTQ / AWQ kernels differ by release), or None: its layout is the same in every
    # release; an adapter module with a ``layout_family(req)`` resolves it from the request (vLLM: the
    # family and release --engine and --vllm-release name)
    layout_option: str | None = None

    def parts(self) -> Adapter:
        return importlib.import_module(f"{__name__}.{self.module}").parts

    def default_context(self) -> ContextPicker | None:
        """The adapter's ``default_context(model, cfg, weights_bytes, req, parts)`` where the engine picks
        a context itself when the request gives none (llama.cpp's --fit), else None: (the context to price
        or None to keep paramscope's default, its words, notes)."""
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), "default_context", None)

    def engine_choice_notes(self) -> Callable[[Model, Any, Any], tuple[str, ...]] | None:
        """The adapter's ``engine_choice_notes(model, req, estimate)``: where the engine would choose
        itself what the estimate does not price (llama.cpp's --fit, off by default here: a context for a
        run without -c, a placement over several GPUs), a note of each; ``size`` adds them (the searches of
        ``fit`` do not: each costs another estimate)."""
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), "engine_choice_notes", None)

    def layout(self, req: Any) -> EngineBuild | None:
        """The build whose weight layout a request follows (``layout_option``)."""
        from paramscope.analyses.sizing.loaded import EngineBuild

        if self.layout_option is None:
            return None
        resolve = getattr(importlib.import_module(f"{__name__}.{self.module}"), "layout_family", None)
        return resolve(req) if resolve is not None else EngineBuild(option(req, self.layout_option))

    def built(self, model: Model, req: Any) -> tuple[Model, tuple[str, ...]]:
        """The model as the engine builds it for ``req``, with a note for each part it leaves out (vLLM:
        a multimodal tower whose modalities are all limited to 0); for an engine whose module has no
        ``built_model(model, req)``, the model without the multi-token-prediction layers its checkpoint
        stores, which no engine loads with the model (sizing/mtp.py; llama.cpp skips a GGUF's nextn
        tensors unless MTP speculation is asked for: llama-model.cpp ``load_mtp`` false by default)."""
        build = getattr(importlib.import_module(f"{__name__}.{self.module}"), "built_model", None)
        if build is not None:
            return build(model, req)
        from paramscope.analyses.sizing.mtp import without_mtp

        return without_mtp(model, self.summary.split(" (")[0])

    def default(self, name: str) -> Any:
        for o in self.options:
            if o.name == name:
                return o.default
        raise UsageError(f"{self.name} has no option {name!r} (its options: "
                         f"{', '.join(o.name for o in self.options) or 'none'})")

    def check(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options given for this runtime, converted and checked; an option of another runtime is refused."""
        known = {o.name: o for o in self.options}
        out = {}
        for k, v in options.items():
            if k not in known:
                owners = [r.name for r in RUNTIMES if any(o.name == k for o in r.options)]
                where = f" (an option of {', '.join(owners)})" if owners else ""
                raise UsageError(f"--{k.replace('_', '-')} does not apply to runtime {self.name}{where}")
            out[k] = known[k].check(v)
        return out


RUNTIMES: tuple[Runtime, ...] = (
    Runtime("llama.cpp", "llamacpp.adapter",
            "llama.cpp (llama-server, llama-cli, llama-cpp-python, LM Studio)",
            (Option("ubatch", int, 512, "llama.cpp -ub: tokens per compute step", 1, 1 << 16),
             Option("swa_full", bool, False, "llama.cpp --swa-full: sliding-window layers hold the whole "
                                             "context"),
             Option("flash_attn", str, "auto", "llama.cpp --flash-attn (auto: on where the backend has "
                                               "kernels for the model's heads, else off; off adds the "
                                               "attention scores, n_ctx × n_ubatch × heads × 4 B)",
                    choices=("auto", "on", "off")),
             Option("llamacpp_backend", str, "auto", "llama.cpp's GPU backend, auto, cuda, rocm, vulkan, "
                    "metal or sycl, whose kernels decide what --flash-attn auto resolves to (auto: CUDA on "
                    "NVIDIA, ROCm on AMD, Metal on Apple, SYCL on Intel)",
                    choices=("auto", "cuda", "rocm", "vulkan", "metal", "sycl")),
             Option("n_gpu_layers", int, None, "llama.cpp -ngl: layers on the GPU, the rest and their KV "
                                               "cache in host memory (default: all)", 0, 1 << 16),
             Option("split_mode", str, "layer", "llama.cpp --split-mode with several GPUs: layer (each "
                                                 "GPU its layers and their KV cache), row (matrices "
                                                 "split by rows, KV on the main GPU), none (one GPU)",
                    choices=("layer", "row", "none")),
             Option("tensor_split", str, "", "llama.cpp --tensor-split: the GPUs' shares, e.g. 3,1 "
                                             "(default: by free memory, equal for identical GPUs)",
                    metavar="A,B,…"),
             Option("n_cpu_moe", int, 0, "llama.cpp --n-cpu-moe N (with a GPU): the MoE experts of the "
                    "first N layers stay in host memory, the rest of those layers on the GPU; the GPU "
                    "(CUDA, ROCm, Vulkan, SYCL) copies one expert stack in to run a large batch's product",
                    0, 1 << 16),
             Option("fit", str, "off", "llama.cpp --fit (on by default in llama.cpp since December 2025): "
                    "on prices the placement it chooses on one GPU when every layer there would leave less "
                    "than --fit-target free (the routed experts of the last MoE layers in host memory, "
                    "else the first layers); off, paramscope's default, prices every layer where -ngl puts "
                    "it and says what --fit would choose. -ngl, --n-cpu-moe or --tensor-split stop it, as "
                    "in llama.cpp", choices=("on", "off")),
             Option("fit_target", int, 1024, "llama.cpp --fit-target: MiB --fit leaves free on the GPU",
                    0, 1 << 20),
             Option("fit_ctx", int, 4096, "llama.cpp --fit-ctx: the shortest context --fit sets when no "
                    "--context is given (llama-server without -c takes the model's trained context and "
                    "--fit shortens it to what the GPU holds)", 1, 1 << 24),
             Option("no_kv_offload", bool, False, "llama.cpp --no-kv-offload: the KV cache stays in host "
                                                  "memory"),
             Option("cpu_isa", str, "x86-avx2", "the CPU llama.cpp runs on without a GPU: which quantized "
                    "matrices it copies into a CPU_REPACK buffer (x86-avx2: Q4_0, Q4_K, IQ4_NL, MXFP4; "
                    "x86-avx512 adds Q2_K; arm-i8mm: also Q5_K, Q6_K, Q8_0, Q1_0; none)",
                    choices=("x86-avx2", "x86-avx512", "arm-i8mm", "none")),
             Option("embeddings", bool, False, "llama.cpp --embeddings (llama-server; embedding=True in "
                    "llama-cpp-python): each output row also holds an embedding, n_embd floats"),
             Option("pooling", str, "auto", "llama.cpp --pooling with --embeddings: none, mean, cls, last or "
                    "rank (auto: the GGUF's, an encoder pools and a decoder does not); builds of the "
                    "late-2025 and legacy families reserve no output rows for pooled embeddings",
                    choices=("auto", "none", "mean", "cls", "last", "rank")),
             Option("llama_server_outputs", bool, False, "llama-server of June 2026 or later (PR 23861): "
                    "the context reserves one row of logits per sequence (n_outputs_max = -np), not "
                    "one per ubatch token, a smaller compute buffer; library callers "
                    "(llama-cpp-python) keep n_ubatch rows; refused with a build family before mid-2026"),
             Option("llamacpp_build", str, "current", "llama.cpp build family: current = b11401 (October "
                    "2026) on, whose graph holds a third, mixed-batch input path (a larger CPU compute "
                    "buffer); mid-2026 = b9410 (May 29, 2026) to it (llama-cpp-python 0.3.36's); "
                    "early-2026 = mid-December 2025 to b9409 (also the attention mask held in f32 beside "
                    "its f16 cast); late-2025 = mid-2025 to mid-December 2025 (-ngl offloads the output "
                    "layer last, not first; an MLA cache keeps a V row too); legacy = mid-2025 and "
                    "earlier (also KV padded to 32 without flash attention, which was off by default); "
                    "legacy-no-swa = "
                    "before May 2025 (also sliding-window layers cache the whole context)",
                    choices=("current", "mid-2026", "early-2026", "late-2025", "legacy", "legacy-no-swa")),
             Option("llamacpp_fork", str, "mainline", "llama.cpp or a fork of it: mainline, or ik-2025 = "
                    "ik_llama.cpp's llama-server of 2025 (before its PR 843, October 2025: a GGUF's MTP "
                    "blocks keep a KV cache too, -np + 1 rows of logits, no f16 copies of a quantized "
                    "cache, host experts run on the CPU); pair it with --llamacpp-build legacy",
                    choices=("mainline", "ik-2025"))),
        ),
    Runtime("vllm", "vllm.adapter", "vLLM (V1 engine; V0 with --engine v0)",
            (Option("gpu_memory_utilization", float, None, "vLLM --gpu-memory-utilization: share of each "
                                                            "GPU it reserves (default: the engine's, 0.92 "
                                                            "in current releases, 0.9 before)", 0.01, 1.0),
             Option("max_num_seqs", int, None, "vLLM --max-num-seqs: requests per step, the sampler's "
                                               "rows (default: the engine's, 256 or 1024)", 1, 1 << 20),
             Option("max_num_batched_tokens", int, None, "vLLM --max-num-batched-tokens: tokens per step, "
                                                         "the profile run's batch (default: the engine's)",
                    1, 1 << 24),
             Option("pipeline_parallel_size", int, 1, "vLLM --pipeline-parallel-size: stages of layers, "
                                                     "each on GPUs / stages GPUs in tensor parallel "
                                                     "(default 1: tensor parallel over all the GPUs)",
                    1, 1 << 10),
             Option("pp_layer_partition", str, "", "vLLM's VLLM_PP_LAYER_PARTITION: the layers of each "
                                                   "pipeline stage, comma-separated (default: even, the "
                                                   "remainder to the stages before the last)",
                    metavar="N,N,…"),
             Option("entrypoint", str, "serve", "how vLLM is started: serve (`vllm serve`), llm (the "
                                                "offline LLM class, whose V1 defaults batch more tokens "
                                                "per step: 16384 on GPUs of 70 GiB and more, else 8192) "
                                                "or engine (an AsyncLLMEngine built in a script: 2048 "
                                                "tokens and 128 sequences on any GPU)",
                    choices=("serve", "llm", "engine")),
             Option("enable_expert_parallel", bool, False, "vLLM --enable-expert-parallel: an MoE "
                                                         "model's experts whole on each GPU (E / N of "
                                                         "them), not each expert split over the GPUs"),
             Option("cpu_offload_gb", float, 0.0, "vLLM --cpu-offload-gb: GiB of each GPU's weights "
                                                  "moved to host memory, decoder layers first to last, "
                                                  "parameter by parameter", 0.0, 1 << 20),
             Option("kv_cache_memory_bytes", str, "", "vLLM --kv-cache-memory-bytes: the KV cache's size per "
                                                      "GPU, as 30000000000, 30g or 28Gi "
                                                      "(gpu_memory_utilization then ignored)",
                    metavar="BYTES"),
             Option("enforce_eager", bool, False, "vLLM --enforce-eager: no CUDA graphs"),
             Option("speculative_config", str, "", "vLLM --speculative-config, as its JSON "
                    "('{\"method\": \"mtp\", \"num_speculative_tokens\": 2}') or METHOD:TOKENS (mtp:2): "
                    "mtp loads the checkpoint's multi-token-prediction layers as a drafter (weights, and a "
                    "KV cache for each layer's attention); ngram and suffix need no weights; with any "
                    "method a linear-attention layer keeps a state block per speculative token",
                    metavar="CONFIG"),
             Option("max_cudagraph_capture_size", int, None, "vLLM --max-cudagraph-capture-size: the "
                    "largest batch captured as a CUDA graph (default: min(2 × max_num_seqs, 512, "
                    "max_num_batched_tokens)); fewer graphs, less graph memory (outside the reservation "
                    "before 0.21, in the v1 family's estimate from 0.21)",
                    1, 1 << 20),
             Option("skip_mm_profiling", bool, False, "vLLM --skip-mm-profiling: the profile run leaves "
                    "the multimodal encoder out (its peak is then yours to leave room for)"),
             Option("limit_mm_per_prompt", str, "", "vLLM --limit-mm-per-prompt: items per prompt by "
                    "modality, as image=1,video=0 or vLLM's JSON (0 leaves a modality out of the "
                    "profile; from 0.15, and for a few models from 0.10.1, a tower all of whose "
                    "modalities are 0 is not built, by architecture: Gemma 3's vision tower with image=0, "
                    "Qwen2.5-VL's and Gemma 4's with image=0,video=0, Gemma 4's audio tower with "
                    "audio=0)", metavar="M=N,…"),
             Option("language_model_only", bool, False, "vLLM --language-model-only (0.17 on): every "
                    "modality limited to 0, so a multimodal model runs as its text model alone, without "
                    "its vision and audio towers' weights or their profile"),
             Option("disable_hybrid_kv_cache_manager", bool, False, "vLLM "
                    "--disable-hybrid-kv-cache-manager (also what a KV connector without hybrid support "
                    "does): every sliding-window layer caches the whole context"),
             Option("async_scheduling", str, "auto", "vLLM --async-scheduling / --no-async-scheduling "
                    "(auto: on, the default from 0.26): a sliding-window layer holds its window and two "
                    "steps of max_num_batched_tokens, not one (releases from 0.26)",
                    choices=("auto", "on", "off")),
             Option("enable_prefix_caching", bool, False, "vLLM --enable-prefix-caching for a hybrid "
                    "(Mamba / linear-attention) model: its state in 'align' mode, two blocks a request, "
                    "three for Mamba-2 layers from 0.32 (the default from 0.26)"),
             Option("no_enable_prefix_caching", bool, False, "vLLM --no-enable-prefix-caching: a hybrid "
                    "model's state in 'none' mode, one block a request (the default before 0.21)"),
             Option("performance_mode", str, "balanced", "vLLM --performance-mode (0.17 on): interactivity "
                    "captures every CUDA graph size from 1 to 32; throughput doubles the default "
                    "max_num_batched_tokens and max_num_seqs",
                    choices=("balanced", "interactivity", "throughput")),
             Option("vllm_model_runner", str, "auto", "vLLM's model runner (VLLM_USE_V2_MODEL_RUNNER; auto: "
                    "the release's default, V2 for a dense text model from 0.25 and every model from 0.29): "
                    "V2 before 0.29 takes no CUDA graph estimate into the budget",
                    choices=("auto", "v1", "v2")),
             Option("flashinfer_sampler", bool, False, "vLLM V1 sampling with FlashInfer's top-k/top-p "
                                                       "kernel (its log says 'Using FlashInfer for top-p & "
                                                       "top-k sampling'): a smaller profile peak"),
             Option("enable_chunked_prefill", str, "auto", "vLLM --enable-chunked-prefill (V0 engine; auto: "
                                                           "on above 32K tokens; V1 always chunks)",
                    choices=("auto", "on", "off")),
             Option("vllm_release", str, "", "vLLM release, as 0.27 or 0.27.1: the engine family it runs "
                    "(unless --engine names one) and the rules that changed within it (default: the v1 "
                    "family as of 0.33; 0.34 sizes the cache after warmup, from its source)",
                    metavar="X.Y[.Z]"),
             Option("engine", str, "v1", "vLLM engine family whose start-up profile to follow: v1 (0.21 and "
                                         "later), v1-0.16 (V1 0.16 to 0.20: CUDA graphs outside the budget),"
                                         " v1-early (V1 0.13 to 0.15: the same with the sort-based sampler),"
                                         " v1-0.12 (V1 0.12.0: the same, multimodal embeddings padded to "
                                         "their placeholders), v1-0.11 (V1 0.11.x: padded to the encoder "
                                         "budget), v1-0.9 (V1 0.9.2 to 0.10: NCCL inside the budget too), "
                                         "v1-0.8 (V1 0.8 to 0.9.1: the CUDA context too), v0 (the V0 engine,"
                                         " 0.6.5 to 0.10), v0-0.6 (V0 0.6.4: the device's non-torch "
                                         "memory), v0-early (V0 before 0.6.4: the whole used memory, NCCL "
                                         "included), v0-2023 (before 0.2.6: all-reduce inputs held too), "
                                         "v0-2023-main (before PR #2031: torch's peak only)",
                    choices=("v1", "v1-0.16", "v1-early", "v1-0.12", "v1-0.11", "v1-0.9", "v1-0.8", "v0",
                             "v0-0.6", "v0-early", "v0-2023", "v0-2023-main"))),
            layout_option="engine"),
    Runtime("sglang", "sglang", "SGLang (sglang.launch_server)",
            (Option("mem_fraction_static", float, None, "SGLang --mem-fraction-static: share of each GPU's "
                                                       "free memory for the weights and the KV pool "
                                                       "(default: the build's rule from the GPU's memory "
                                                       "and TP size)",
                    0.01, 0.99),
             Option("disable_piecewise_cuda_graph", bool, False, "SGLang --disable-piecewise-cuda-graph: "
                    "no reserve for the piecewise CUDA graphs the current build (0.5.10 on) captures by "
                    "default (8 MiB per captured token count, 1.5 GiB for MLA)"),
             Option("sglang_build", str, "current", "SGLang build whose default --mem-fraction-static to "
                                                    "follow: current (0.5.10 on: a reserve for piecewise "
                                                    "CUDA graphs), late-2025 (0.5.3 to 0.5.9), mid-2025 "
                                                    "(0.4.9 to 0.5), early-2025 (0.4 to 0.4.6: by TP size, "
                                                    "0.88 to 0.79)",
                    choices=("current", "late-2025", "mid-2025", "early-2025")),
             Option("swa_full_tokens_ratio", float, None, "SGLang --swa-full-tokens-ratio: the "
                                                         "sliding-window layers' pool as a share of the "
                                                         "full layers' tokens (hybrid-SWA models: "
                                                         "gpt-oss, Llama 4, Gemma 4; SGLang's default "
                                                         "0.8)",
                    0.01, 1.0),
             Option("disable_hybrid_swa_memory", bool, None, "SGLang --disable-hybrid-swa-memory: one pool "
                                                             "for every layer, sliding ones holding the "
                                                             "whole context (default: the build's rule; "
                                                             "gpt-oss before the current build: on)"),
             Option("mamba_full_memory_ratio", float, None, "SGLang --mamba-full-memory-ratio: recurrent "
                                                           "states' memory over the KV pool's (Mamba / "
                                                           "linear-attention hybrids: Qwen3-Next, "
                                                           "Nemotron-H; SGLang's default 0.9)",
                    0.01, 100.0),
             Option("max_mamba_cache_size", int, None, "SGLang --max-mamba-cache-size: recurrent states "
                                                       "to allocate (default: by the memory ratio)",
                    1, 1 << 20),
             Option("mamba_ssm_dtype", str, "float32", "SGLang --mamba-ssm-dtype: the SSM state's type",
                    choices=("float32", "bfloat16")),
             Option("max_total_tokens", int, None, "SGLang --max-total-tokens: the KV pool's tokens at "
                                                   "most (default: as many as the memory gives)",
                    1, 1 << 40))),
    Runtime("transformers", "transformers", "Hugging Face transformers (generate with a dynamic cache)",
            (Option("device_map", str, "none", "from_pretrained device_map: none = the whole model on one "
                                               "GPU; auto, balanced, balanced_low_0, sequential = placed "
                                               "by transformers' rule over the GPUs, CPU RAM and disk",
                    choices=("none", "auto", "balanced", "balanced_low_0", "sequential")),
             Option("max_memory", str, None, "from_pretrained max_memory with --device-map, as DEVICE=SIZE "
                                             "pairs: 0=20GiB,1=20GiB,cpu=64GiB (default: each --gpu "
                                             "device whole, CPU RAM not limited)",
                    metavar="DEV=SIZE,…")),
            aliases=("hf",)),
)


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(".", "")


_BY_KEY = {_key(a): r for r in RUNTIMES for a in (r.name, *r.aliases)}


def find(name: str) -> Runtime:
    try:
        return _BY_KEY[_key(name)]
    except KeyError:
        raise UsageError(f"unknown runtime {name!r} (known: {', '.join(names())})") from None


def names() -> tuple[str, ...]:
    return tuple(r.name for r in RUNTIMES)


def all_options() -> tuple[tuple[Runtime, Option], ...]:
    return tuple((r, o) for r in RUNTIMES for o in r.options)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def option(req: MemoryRequest, name: str, runtime: str | None = None) -> Any:
    """The option as ``req`` gives it for its runtime, else the declared default of ``runtime`` (the
    request's own when None)."""
    if name in req.options and (runtime is None or find(runtime).name == find(req.runtime).name):
        return req.options[name]
    return find(runtime or req.runtime).default(name)


def _number(x: float | None) -> str:
    """A bound as a person writes it: an integer whole (1,099,511,627,776), a fraction as %g."""
    if x is None:
        return "any"
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"
