"""A jax.jit matmul+tanh chain on (rows x 1024) float32 arrays doubling from 64 MiB; every output stays
alive, so memory grows. JAX's default preallocation (75 % of what the device reports) is left as is:
the runner passes XLA_* variables if it wants others."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

start, cap, hold = common.args(64, 16384)  # MiB of one round's input (and of its output)
S, keep = {}, []


@jax.jit
def chain(x, w):
    for _ in range(3):
        x = jnp.tanh(x @ w)
    return x


def stats():
    return S["dev"].memory_stats() or {}


def setup(res):
    S["dev"] = jax.devices()[0]
    if S["dev"].platform != "gpu":  # the CUDA plugin failed and JAX fell back to the CPU
        raise RuntimeError(f"JAX runs on {S['dev'].platform}, not the GPU")
    S["w"] = jnp.full((1024, 1024), 1 / 1024, jnp.float32).block_until_ready()  # the allocator exists now
    res["total"] = stats().get("bytes_limit")  # JAX shows no device free figure: free_at_start stays null


def step(mib):
    x = jnp.full(((mib << 20) // 4096, 1024), 0.5, jnp.float32)
    y = chain(x, S["w"]).block_until_ready()
    keep.append(y)
    del x
    return stats().get("peak_bytes_in_use", 0) >> 20


def is_oom(e):  # JaxRuntimeError (XlaRuntimeError before) RESOURCE_EXHAUSTED
    return common.says(e, "RESOURCE_EXHAUSTED", "out of memory", "Out of memory")


common.run("jax_jit", setup, step, is_oom, start, cap, hold)
