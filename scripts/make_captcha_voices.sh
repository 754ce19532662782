#!/usr/bin/env bash
# Render French voice files for the portal's audio CAPTCHA.
#
# The PyPI `captcha` package (0.7.x), captcha.audio.AudioCaptcha(voicedir=DIR),
# expects:
#   DIR/<c>/*.wav    one folder per character, named by that single character;
#                    every *.wav in it is a variant, one picked at random
#                    (secrets.choice) per occurrence of the character.
#   WAV format       read with wave.readframes() and mixed byte by byte with its
#                    own header (RIFF PCM, 1 channel, 8000 Hz, 8-bit unsigned,
#                    silence = 128), so the files MUST be exactly that:
#                    mono, 8000 Hz, 8-bit unsigned-integer PCM.
#
# Output: portal/captcha_voices/fr/<digit>/<n>.wav, digits 0-9, 3 variants each
# (espeak-ng French voice with male/female variants, speeds and pitches),
# leading/trailing silence trimmed, peak-normalised. Re-runnable: the fr/
# folder is rebuilt; sox runs in repeatable mode so the output is stable.
#
# Usage: bash scripts/make_captcha_voices.sh
# Needs: espeak-ng and sox (installed with apt-get when missing).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$REPO_ROOT/portal/captcha_voices/fr"

if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "make_captcha_voices: installing espeak-ng and sox with apt-get"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends espeak-ng sox
fi

# French words for the digits (spelt out so espeak-ng's number rules play no part).
WORDS=(zéro un deux trois quatre cinq six sept huit neuf)

# Variants: "voice speed(wpm) pitch(0-99)".
VARIANTS=(
    "fr 140 50"
    "fr+f3 150 60"
    "fr+m3 160 40"
)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

rm -rf "$DEST"
for digit in 0 1 2 3 4 5 6 7 8 9; do
    mkdir -p "$DEST/$digit"
    n=1
    for variant in "${VARIANTS[@]}"; do
        read -r voice speed pitch <<<"$variant"
        raw="$WORK/$digit-$n.wav"
        espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$raw" "${WORDS[$digit]}"
        # Trim silence at both ends, normalise to -1 dBFS, then convert to
        # mono 8 kHz 8-bit unsigned PCM (the exact format AudioCaptcha mixes).
        # The trim is 10 ms above 0.1 %: espeak-ng's silence is digital zero,
        # and the usual "0.05 1%" cuts final consonants (e.g. "quatre" lost
        # its "-tre": 0.16 s instead of 0.38 s).
        sox -R -V1 "$raw" -c 1 -r 8000 -b 8 -e unsigned-integer "$DEST/$digit/$n.wav" \
            silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse \
            gain -n -1
        n=$((n + 1))
    done
done

echo "make_captcha_voices: $(find "$DEST" -name '*.wav' | wc -l) files -> ${DEST#"$REPO_ROOT"/} ($(du -sh --apparent-size "$DEST" | cut -f1))"
