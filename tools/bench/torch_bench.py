#!/usr/bin/env python3
"""PyTorch reference for `core-model bench`: the same encoder-decoder model and the same training step, timed
the same way, so that the TypeScript bench can print its speed as a ratio to PyTorch on the same machine.

The model is written out here from packages/core-model/src/model/{vit,decoder,ops}.ts: patch
embedding as a dense layer over flattened (row, column, channel) patches, learned or 2-D sin-cos encoder
positions, pre-LN blocks (layer norm eps 1e-6) of multi-head attention + MLP with tanh-GELU, final encoder norm;
decoder with token embedding + learned positions, pre-LN blocks of causal self-attention, cross-attention and MLP,
final norm and a logits layer. Training step: teacher-forced token cross-entropy (inputs shifted right with 0 in
front) + Adam(1e-3), as one pass over the whole batch (the TypeScript side's micro-batches exist only for wasm's
4 GiB heap; bench-tiny and bench-small use none). Sampling: encode once, then a naive greedy loop that recomputes the decoder over the whole
prefix at every step (no KV cache), for the full length L.

The sizes come from the TypeScript side (`--spec` JSON: {"model": {"encoder": VitConfig, "decoder":
DecoderConfig}, "batch", "steps", "params"}); the script asserts that its parameter count equals "params".
Prints one JSON object: {"torch_version","threads","device","params","train_step_ms","sample_ms",
"train_step_cpu_ms","sample_cpu_ms","blas"} ("blas": the BLAS library files the process mapped, or null). The median of `steps` timed steps after one warm-up step is reported;
sampling is timed once after one warm-up run (as the TypeScript bench does).

`--check FILE` instead scores and greedily decodes with the TypeScript model's own weights (see `check`), so that a
test can show that both implementations compute the same function.

Dimension legend: B batch, P patches, L length, V vocabulary, D width, H heads, Dh = D/H.
Exit codes: 0 ok, 2 bad arguments or spec, 3 torch not importable.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the TypeScript side checks first; this is for people running the script by hand
    print(f"torch_bench.py: torch is not importable ({e})", file=sys.stderr)
    sys.exit(3)

LN_EPS = 1e-6
NEG = -1e9


def dense(din, dout, zeros=False):
    lin = nn.Linear(din, dout)
    if zeros:
        nn.init.zeros_(lin.weight)
    else:
        nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


class Attention(nn.Module):
    """Multi-head attention: queries from xq [B, L, D], keys and values from xkv [B, S, Dkv] -> [B, L, D]."""

    def __init__(self, d, dkv, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.out = dense(d, d), dense(dkv, d), dense(dkv, d), dense(d, d)

    def forward(self, xq, xkv, bias=None):
        b, l, d = xq.shape
        s = xkv.shape[1]
        h, dh = self.heads, d // self.heads
        q = self.query(xq).view(b, l, h, dh).transpose(1, 2)  # [B, H, L, Dh]
        k = self.key(xkv).view(b, s, h, dh).transpose(1, 2)  # [B, H, S, Dh]
        v = self.value(xkv).view(b, s, h, dh).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(dh))  # [B, H, L, S]
        if bias is not None:
            scores = scores + bias
        o = torch.matmul(torch.softmax(scores, dim=-1), v)  # [B, H, L, Dh]
        return self.out(o.transpose(1, 2).reshape(b, l, d))


class Mlp(nn.Module):
    def __init__(self, d, mlp):
        super().__init__()
        self.dense0, self.dense1 = dense(d, mlp), dense(mlp, d)

    def forward(self, x):
        return self.dense1(F.gelu(self.dense0(x), approximate="tanh"))


def sincos2d(h, w, width, temperature=10000.0):
    """[h*w, D] row-major over the grid: [sin(y w), cos(y w), sin(x w), cos(x w)], w_i = T^(-i/(D/4-1))."""
    q = width // 4
    omega = torch.tensor([1.0 / temperature ** (0.0 if q == 1 else i / (q - 1)) for i in range(q)], dtype=torch.float64)
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    y, x = y.reshape(-1, 1) * omega, x.reshape(-1, 1) * omega
    return torch.cat([torch.sin(y), torch.cos(y), torch.sin(x), torch.cos(x)], dim=1).float()


class EncoderBlock(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.ln0, self.ln1 = nn.LayerNorm(d, eps=LN_EPS), nn.LayerNorm(d, eps=LN_EPS)
        self.attn, self.mlp = Attention(d, d, heads), Mlp(d, mlp)

    def forward(self, x):
        y = self.ln0(x)
        x = x + self.attn(y, y)
        return x + self.mlp(self.ln1(x))


class Vit(nn.Module):
    """images [B, Hi, Wi, C] -> tokens [B, P, D]."""

    def __init__(self, cfg):
        super().__init__()
        hi, wi = cfg["imageSize"]
        self.patch, d = cfg["patch"], cfg["width"]
        self.grid = (hi // self.patch, wi // self.patch)
        p = self.grid[0] * self.grid[1]
        self.embedding = dense(self.patch * self.patch * cfg["channels"], d)
        if cfg["posemb"] == "learned":
            self.pos = nn.Parameter(torch.randn(1, p, d) * cfg["posembStd"])
        elif cfg["posemb"] == "sincos2d":
            self.register_buffer("pos", sincos2d(self.grid[0], self.grid[1], d).view(1, p, d))
        else:
            raise ValueError(f"encoder.posemb: unknown '{cfg['posemb']}'")
        self.blocks = nn.ModuleList([EncoderBlock(d, cfg["heads"], cfg["mlp"]) for _ in range(cfg["depth"])])
        self.norm = nn.LayerNorm(d, eps=LN_EPS)

    def forward(self, images):
        b, _, _, c = images.shape
        (gh, gw), p = self.grid, self.patch
        # [B, gh, p, gw, p, C] -> [B, gh, gw, p, p, C] -> [B, P, p*p*C]: (row, column, channel) within a patch.
        x = images.view(b, gh, p, gw, p, c).permute(0, 1, 3, 2, 4, 5).reshape(b, gh * gw, p * p * c)
        x = self.embedding(x) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class DecoderBlock(nn.Module):
    def __init__(self, d, de, heads, mlp):
        super().__init__()
        self.ln0, self.ln1, self.ln2 = (nn.LayerNorm(d, eps=LN_EPS) for _ in range(3))
        self.self_attn, self.cross_attn, self.mlp = Attention(d, d, heads), Attention(d, de, heads), Mlp(d, mlp)

    def forward(self, x, encoded, causal):
        y = self.ln0(x)
        x = x + self.self_attn(y, y, causal)
        x = x + self.cross_attn(self.ln1(x), encoded)
        return x + self.mlp(self.ln2(x))


class Decoder(nn.Module):
    """encoded [B, P, De], inputs [B, l] (already shifted right, l <= L) -> logits [B, l, V]."""

    def __init__(self, cfg):
        super().__init__()
        d, v, self.length = cfg["width"], cfg["vocabSize"], cfg["length"]
        self.embed = nn.Embedding(v, d)
        nn.init.normal_(self.embed.weight, std=1.0)
        self.pos = nn.Parameter(torch.randn(1, self.length, d) * cfg["posembStd"])
        self.blocks = nn.ModuleList(
            [DecoderBlock(d, cfg["encoderWidth"], cfg["heads"], cfg["mlp"]) for _ in range(cfg["depth"])]
        )
        self.norm = nn.LayerNorm(d, eps=LN_EPS)
        self.head = dense(d, v, zeros=True)

    def forward(self, encoded, inputs):
        l = inputs.shape[1]
        x = self.embed(inputs) + self.pos[:, :l]
        causal = torch.triu(torch.full((l, l), NEG, device=inputs.device), diagonal=1).view(1, 1, l, l)
        for blk in self.blocks:
            x = blk(x, encoded, causal)
        return self.head(self.norm(x))


class EncoderDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.encoder, self.decoder = Vit(cfg["encoder"]), Decoder(cfg["decoder"])

    def loss(self, images, targets):
        """Mean teacher-forced token cross-entropy of targets [B, L]."""
        b = targets.shape[0]
        inputs = torch.cat([torch.zeros(b, 1, dtype=targets.dtype, device=targets.device), targets[:, :-1]], dim=1)
        logits = self.decoder(self.encoder(images), inputs)  # [B, L, V]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def greedy(self, images):
        """Naive greedy decoding of L tokens: the whole prefix is re-run at every step -> tokens [B, L]."""
        encoded = self.encoder(images)
        b = images.shape[0]
        seq = torch.zeros(b, 1, dtype=torch.long, device=images.device)  # BOS, then the tokens so far
        for _ in range(self.decoder.length):
            logits = self.decoder(encoded, seq)[:, -1]  # [B, V]
            seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], dim=1)
        return seq[:, 1:]


def loaded_blas():
    """The BLAS library this process actually mapped (Linux): Debian's python3-torch calls whatever libblas.so.3
    the alternatives system or LD_LIBRARY_PATH provides, and netlib's reference BLAS is ~15x slower than OpenBLAS."""
    try:
        with open("/proc/self/maps") as f:
            paths = {os.path.realpath(line.split()[-1]) for line in f if line.count("/")}
    except OSError:
        return None
    names = sorted(p for p in paths if "blas" in os.path.basename(p).lower())
    return ",".join(names) if names else None


def ts_param_map(model):
    """TypeScript parameter name -> (torch parameter, transpose?): the naming of vit.ts and decoder.ts."""
    out = {}

    def dense(prefix, lin):
        out[f"{prefix}/kernel"], out[f"{prefix}/bias"] = (lin.weight, True), (lin.bias, False)

    def norm(prefix, ln):
        out[f"{prefix}/scale"], out[f"{prefix}/bias"] = (ln.weight, False), (ln.bias, False)

    def attention(prefix, att):
        for n in ("query", "key", "value", "out"):
            dense(f"{prefix}/{n}", getattr(att, n))

    def mlp(prefix, m):
        dense(f"{prefix}/Dense_0", m.dense0)
        dense(f"{prefix}/Dense_1", m.dense1)

    enc, dec = model.encoder, model.decoder
    dense("img/embedding", enc.embedding)
    if isinstance(enc.pos, nn.Parameter):
        out["img/pos_embedding"] = (enc.pos, False)
    for i, blk in enumerate(enc.blocks):
        b = f"img/Transformer/encoderblock_{i}"
        norm(f"{b}/LayerNorm_0", blk.ln0)
        attention(f"{b}/MultiHeadDotProductAttention_0", blk.attn)
        norm(f"{b}/LayerNorm_1", blk.ln1)
        mlp(f"{b}/MlpBlock_0", blk.mlp)
    norm("img/Transformer/encoder_norm", enc.norm)
    out["decoder/EmbedTargets/embedding"] = (dec.embed.weight, False)
    out["decoder/pos_embedding"] = (dec.pos, False)
    for i, blk in enumerate(dec.blocks):
        b = f"decoder/decoderblock_{i}"
        norm(f"{b}/LayerNorm_0", blk.ln0)
        attention(f"{b}/MultiHeadDotProductAttention_0", blk.self_attn)
        norm(f"{b}/LayerNorm_1", blk.ln1)
        attention(f"{b}/MultiHeadDotProductAttention_1", blk.cross_attn)
        norm(f"{b}/LayerNorm_2", blk.ln2)
        mlp(f"{b}/MlpBlock_0", blk.mlp)
    norm("decoder/decoder_norm", dec.norm)
    dense("decoder/head", dec.head)
    return out


def check(path):
    """Parity mode: the TypeScript model's weights and inputs from `path` (JSON {"model", "params": {name:
    {"shape", "data"}}, "images": {"shape", "data"}, "targets": {"shape", "data"}}) -> {"loss", "tokens"}: the mean
    teacher-forced cross-entropy and the naive greedy decode, to compare with the TypeScript model's."""
    with open(path) as f:
        spec = json.load(f)
    model = EncoderDecoder(spec["model"])
    mapping = ts_param_map(model)
    assert set(mapping) == set(spec["params"]), f"names differ: {sorted(set(mapping) ^ set(spec['params']))[:5]}"
    assert len({id(p) for p, _ in mapping.values()}) == len(list(model.parameters())), "a parameter is unmapped"
    with torch.no_grad():
        for name, (p, transpose) in mapping.items():
            v = torch.tensor(spec["params"][name]["data"], dtype=torch.float32).view(spec["params"][name]["shape"])
            p.copy_(v.t() if transpose else v)
    images = torch.tensor(spec["images"]["data"], dtype=torch.float32).view(spec["images"]["shape"])
    targets = torch.tensor(spec["targets"]["data"], dtype=torch.long).view(spec["targets"]["shape"])
    with torch.no_grad():
        loss = model.loss(images, targets).item()
    print(json.dumps({"loss": loss, "tokens": model.greedy(images).tolist()}))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", help="JSON from the TypeScript bench: model, batch, steps, params")
    ap.add_argument("--check", metavar="FILE", help="parity mode: score and decode with the weights in FILE")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="auto: cuda when available")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.check:
        return check(args.check)
    if args.spec is None:
        print("torch_bench.py: --spec or --check is required", file=sys.stderr)
        return 2
    try:
        spec = json.loads(args.spec)
        cfg, batch, steps, want = spec["model"], int(spec["batch"]), int(spec["steps"]), int(spec["params"])
    except (ValueError, KeyError, TypeError) as e:
        print(f"torch_bench.py: --spec: {e!r}", file=sys.stderr)
        return 2
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        print("torch_bench.py: --device cuda: CUDA is not available", file=sys.stderr)
        return 2
    torch.manual_seed(0)

    model = EncoderDecoder(cfg).to(device)
    params = sum(p.numel() for p in model.parameters())
    assert params == want, f"parameter count {params} != {want} reported by the TypeScript model"

    enc, dec = cfg["encoder"], cfg["decoder"]
    hi, wi = enc["imageSize"]
    images = torch.rand(batch, hi, wi, enc["channels"], device=device) * 2 - 1
    targets = torch.randint(0, dec["vocabSize"], (batch, dec["length"]), device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def train_step():
        opt.zero_grad(set_to_none=True)
        model.loss(images, targets).backward()
        opt.step()

    def timed(fn):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000

    train_step()  # warm-up
    runs = [timed(train_step) for _ in range(steps)]
    model.greedy(images)  # warm-up
    sample_ms, sample_cpu_ms = timed(lambda: model.greedy(images))

    print(json.dumps({
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": device,
        "params": params,
        "train_step_ms": round(statistics.median_high([r[0] for r in runs])),
        "sample_ms": round(sample_ms),
        "train_step_cpu_ms": round(statistics.median_high([r[1] for r in runs])),
        "sample_cpu_ms": round(sample_cpu_ms),
        "blas": loaded_blas(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
