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
    out = []
    for digit, word in enumerate(WORDS):
        for voice, speed, pitch in variants:
            clean = speak(word, voice, speed, pitch)
            out += [Template(str(digit), resample(clean, s)) for s in stretches]
    return out


class Solver:
    """Templates prepared once; `solve(wav)` reads the digits of one challenge, `solve_many`
    several (each template's spectrum computed once for them all)."""

    CHUNK = 8  # templates correlated at once (CHUNK × the FFT size: 8 fits the caches best)

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
        size = 1 << int(np.ceil(np.log2(max(map(len, signals)) + longest)))
        spectra = [np.fft.rfft(signal, size) for signal in signals]
        energies = [np.concatenate(([0.0], np.cumsum(signal**2))) for signal in signals]
        best = [np.zeros(len(signal)) for signal in signals]
        who = [np.full(len(signal), -1) for signal in signals]
        for first in range(0, len(self.templates), self.CHUNK):
            rows = range(first, min(first + self.CHUNK, len(self.templates)))
            padded = np.zeros((len(rows), size))
            for row, index in enumerate(rows):
                padded[row, : self.lengths[index]] = self.templates[index].samples
            # correlation at offset t: irfft(S · conj(T))[t], the same for every template
            kernels = np.conj(np.fft.rfft(padded, axis=1))
            for k in range(len(signals)):
                self._match(rows, kernels, spectra[k], energies[k], size, best[k], who[k])
        return [self._read(b, w) for b, w in zip(best, who, strict=True)]

    def _match(self, rows: range, kernels: np.ndarray, spectrum: np.ndarray,
               energy: np.ndarray, size: int, best: np.ndarray, who: np.ndarray,
               ) -> None:  # fmt: skip
        """Normalised cross-correlation of a chunk of templates; the best so far per offset.
        (In place: the arrays are CHUNK × the signal's length.)"""
        length = len(best)
        score = np.fft.irfft(spectrum[None, :] * kernels, size, axis=1)[:, :length]
        n = self.lengths[rows.start : rows.stop, None]
        ends = np.arange(length)[None, :] + n
        fits = ends <= length  # the template lies within the signal at that offset
        np.minimum(ends, length, out=ends)
        local = energy[ends]
        local -= energy[None, :length]
        np.maximum(local, 1e-12, out=local)
        np.sqrt(local, out=local)
        fits &= local > 1e-3 * np.sqrt(n)
        fits &= n < length
        local *= self.norms[rows.start : rows.stop, None]
        score /= local
        score *= fits
        top = np.argmax(score, axis=0)
        value = score[top, np.arange(length)]
        better = value > best
        best[better] = value[better]
        who[better] = top[better] + rows.start

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
            for speed in speeds:
                wav = bytes(patch_wave_header(change_speed(body, speed)))
                out.append(Template(folder.name, decode(wav)))
    return out


def old_voices(directory: Path) -> Path:
    """The voice files the portal used to ship (scripts/make_captcha_voices.sh's recipe:
    three espeak-ng variants a digit, trimmed, 8 kHz 8-bit), rebuilt to replay the old
    captcha — what the attacker matched against."""
    names = [("fr", 140, 50), ("fr+f3", 150, 60), ("fr+m3", 160, 40)]
    with tempfile.TemporaryDirectory() as work:
        for digit, word in enumerate(WORDS):
            (directory / str(digit)).mkdir(parents=True, exist_ok=True)
            for n, (voice, speed, pitch) in enumerate(names, 1):
                raw = Path(work) / f"{digit}-{n}.wav"
                target = directory / str(digit) / f"{n}.wav"
                speech = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch)]
                subprocess.run([*speech, "-w", str(raw), word], check=True)
                # mono 8 kHz 8-bit, silences trimmed, peak −1 dBFS: AudioCaptcha's format
                trim = ["silence", "1", "0.01", "0.1%", "reverse"]
                fmt = ["-c", "1", "-r", "8000", "-b", "8", "-e", "unsigned-integer"]
                effects = [*trim, *trim, "gain", "-n", "-1"]
                subprocess.run(
                    ["sox", "-R", "-V1", str(raw), *fmt, str(target), *effects], check=True
                )
    return directory
