"""GPT-2 small (transformers, random weights, fp32) generating greedily: 128-token random prompts,
64 new tokens, batch doubling; SDPA attention, so PyTorch's own attention kernels run."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

start, cap, hold = common.args(8, 2048)
PROMPT, NEW = 128, 64
S = {}


def setup(res):
    res["free_at_start"], res["total"] = torch.cuda.mem_get_info()
    cfg = GPT2Config(attn_implementation="sdpa")
    S["model"] = GPT2LMHeadModel(cfg).cuda().eval()
    S["vocab"] = cfg.vocab_size
    S["eos"] = getattr(cfg, "eos_token_id", None) or 50256
    res["attn_implementation"] = getattr(S["model"].config, "_attn_implementation", None)


def step(n):
    torch.cuda.reset_peak_memory_stats()
    ids = torch.randint(0, S["vocab"], (n, PROMPT), device="cuda")
    with torch.inference_mode():  # min_new_tokens: random weights must not stop early on EOS
        out = S["model"].generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW,
                                  min_new_tokens=NEW, do_sample=False, pad_token_id=S["eos"])
    torch.cuda.synchronize()
    if out.shape[1] != PROMPT + NEW:
        raise AssertionError(f"generated {out.shape[1] - PROMPT} tokens, not {NEW}")
    return torch.cuda.max_memory_reserved() >> 20


def is_oom(e):
    return isinstance(e, torch.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and common.says(e, "out of memory", "ALLOC_FAILED"))


common.run("gpt2_generate", setup, step, is_oom, start, cap, hold)
