"""The spoken captcha: synthesised for each request by espeak-ng, mixed by sox.

Issue 18 item 2: the 30 voice files the portal used to ship let a script read the old audio
by template matching (30/30). Nothing here is a file to match against: every digit is
spoken with its own random espeak-ng voice variant, pitch, speed and loudness, at a random
place, over a babble of other French words in other random voices and a low noise; a spoken
instruction comes first. tests/portal/test_captcha_audio.py runs the attack against it.

espeak-ng and sox are Debian packages (scripts/bootstrap.sh and scripts/setup.sh install
them); a missing one is `Unavailable`, shown as the portal's error page for the audio only.
"""

from __future__ import annotations

import math
import operator
import random
import shlex
import shutil
import subprocess
import tempfile
import wave
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from apexdir.errors import Unavailable

RATE = 22050  # espeak-ng's own rate: the tracks are joined without resampling
OUT_RATE = 16000
INSTRUCTION = "Recopiez les chiffres suivants."
WORDS = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf")
# espeak-ng's variants that stay clear in French (whisper, croak and the like do not).
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Andy", "Denis", "Gene", "Jacky", "adam", "anika",
    "antonio", "boris", "david", "ed", "gustave", "iven", "max", "michel", "norbert", "paul",
    "pedro", "quincy", "rob", "robert", "steph",
)  # fmt: skip
# The babble: everyday words that rhyme with no digit, so that a listener never hears one.
BABBLE = (
    "table", "carotte", "montagne", "fenêtre", "papillon", "lavande", "château", "orange",
    "voyage", "tortue", "camion", "guitare", "moulin", "salade", "pomme", "nuage", "bateau",
    "rivage", "soleil", "livre", "porte", "tomate", "balcon", "cabane", "écharpe", "lampe",
    "musique", "parapluie", "jardinage", "boulanger", "crayon", "valise", "marmotte",
    "citron", "farine", "caramel", "tulipe", "horloge", "galette", "bougie", "cartable",
)  # fmt: skip
BABBLE_LEVEL = (0.1, 0.16)  # × each babble stream, the digits being at 1 (≈ −18 dB)
NOISE_LEVEL = 0.04
SPEECH_RMS = 3000.0  # of 32767: loud enough, far from clipping once mixed
BABBLE_STREAMS = 2


@dataclass
class Rendering:
    """The WAV, and where each digit sits (seconds): the tests' check of levels."""

    wav: bytes
    spans: list[tuple[float, float]] = field(default_factory=list)
    seconds: float = 0.0


def available() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def render(answer: str, rng: random.Random | None = None) -> Rendering:
    """French speech of `answer`'s digits, a new voice for each, in a 16 kHz 16-bit WAV."""
    if not available():
        raise Unavailable("la version audio du captcha demande espeak-ng et sox")
    rng = rng or random.SystemRandom()
    lines = [_speech_args(INSTRUCTION, rng, speed=(140, 155), pitch=(40, 60))]
    lines += [_speech_args(WORDS[int(d)], rng) for d in answer]
    lines += [
        _speech_args(" ".join(rng.choice(BABBLE) for _ in range(14)), rng, speed=(150, 190))
        for _ in range(BABBLE_STREAMS)
    ]
    # The processes run side by side: the audio's wall time is one espeak-ng, not eight.
    with ThreadPoolExecutor(len(lines)) as pool:
        clips = list(pool.map(_espeak, lines))
    speech, babble = clips[: 1 + len(answer)], clips[1 + len(answer) :]
    # The speech track, piece by piece: instruction, pause, then each digit and a pause of
    # random length. Voices differ in loudness by up to 4×: each piece gets the gain that
    # brings it to one speech level, varied a little, so that no digit sinks under the
    # babble (sox applies the gains: a Python loop over the samples would cost more).
    pieces: list[tuple[bytes, float]] = [(speech[0], _gain(speech[0], 1.0))]
    pieces.append((_silence(rng.uniform(0.6, 0.9)), 1.0))
    spans, at = [], sum(len(p) for p, _ in pieces)
    for clip in speech[1:]:
        pieces.append((clip, _gain(clip, rng.uniform(0.85, 1.15))))
        spans.append((at / 2 / RATE, (at + len(clip)) / 2 / RATE))
        gap = _silence(rng.uniform(0.45, 1.0))
        pieces.append((gap, 1.0))
        at += len(clip) + len(gap)
    seconds = at / 2 / RATE
    babble_start = len(speech[0]) + len(_silence(0.3))  # the instruction is heard alone
    with tempfile.TemporaryDirectory(prefix="apex-captcha-") as work:
        root = Path(work)
        joined = ["sox", "-V1"]
        for n, (piece, gain) in enumerate(pieces):
            (root / f"{n}.raw").write_bytes(piece)
            joined += ["-v", f"{gain:.4f}", *_raw(root / f"{n}.raw")]
        inputs = ["-v", "1", f"|{shlex.join([*joined, '-p'])}"]
        for n, clip in enumerate(babble):
            track = _silence_bytes(babble_start) + _loop(clip, at - babble_start)
            (root / f"babble{n}.raw").write_bytes(track)
            gain = _gain(clip, rng.uniform(*BABBLE_LEVEL))
            inputs += ["-v", f"{gain:.4f}", *_raw(root / f"babble{n}.raw")]
        colour = rng.choice(("brownnoise", "pinknoise"))
        noise = f"sox -n -r {RATE} -c 1 -b 16 -p synth {seconds:.3f} {colour}"
        inputs += ["-v", str(NOISE_LEVEL), f"|{noise}"]
        out = root / "captcha.wav"
        output = ["-r", str(OUT_RATE), "-b", "16", str(out), "gain", "-n", "-1"]
        _run(["sox", "-V1", "-m", *inputs, *output])
        return Rendering(out.read_bytes(), spans, seconds)


def _gain(clip: bytes, level: float) -> float:
    """The factor that brings `clip` to `level` × the speech level."""
    return level * SPEECH_RMS / _rms(array("h", clip))


def _speech_args(
    text: str,
    rng: random.Random,
    speed: tuple[int, int] = (115, 165),
    pitch: tuple[int, int] = (20, 80),
    loud: tuple[int, int] = (80, 140),
) -> list[str]:
    return [
        "espeak-ng",
        "-v",
        f"fr+{rng.choice(VARIANTS)}",
        "-s",
        str(rng.randint(*speed)),
        "-p",
        str(rng.randint(*pitch)),
        "-a",
        str(rng.randint(*loud)),
        "--stdout",
        text,
    ]


def _espeak(args: list[str]) -> bytes:
    """The 16-bit samples of one espeak-ng run, trimmed of leading and trailing silence."""
    data = _run(args)
    samples = data[44:]  # the streaming header of --stdout holds no usable length
    samples = samples[: len(samples) // 2 * 2]
    values = memoryview(samples).cast("h")  # little-endian, as espeak-ng writes on x86/arm
    first = next((i for i in range(len(values)) if abs(values[i]) > 300), None)
    if first is None:
        return samples
    last = next(i for i in range(len(values) - 1, -1, -1) if abs(values[i]) > 300)
    return samples[2 * first : 2 * last + 2]


def _rms(values: array[int]) -> float:
    if not values:
        return 1.0
    return math.sqrt(sum(map(operator.mul, values, values)) / len(values)) or 1.0


def _run(args: list[str]) -> bytes:
    try:
        done = subprocess.run(args, capture_output=True, check=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        raise Unavailable(
            f"la version audio du captcha n'a pas pu être produite : {args[0]}"
        ) from exc
    return done.stdout


def _raw(path: Path) -> list[str]:
    return ["-t", "s16", "-r", str(RATE), "-c", "1", str(path)]


def _silence(seconds: float) -> bytes:
    return _silence_bytes(2 * int(seconds * RATE))


def _silence_bytes(n: int) -> bytes:
    return bytes(n - n % 2)


def _loop(clip: bytes, n: int) -> bytes:
    """`clip` repeated to `n` bytes (a babble stream as long as the digits)."""
    if not clip or n <= 0:
        return _silence_bytes(max(n, 0))
    return (clip * (n // len(clip) + 1))[: n - n % 2]


def duration(wav: bytes) -> float:
    import io

    with wave.open(io.BytesIO(wav)) as reader:
        return reader.getnframes() / reader.getframerate()
