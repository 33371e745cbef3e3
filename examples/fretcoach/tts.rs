//! The text-to-speech engine the coach speaks through, and the audio it makes.
//!
//! Offline, the speech is a **stand-in**: a short WAV made here with `hound` (a tone a word,
//! rising with the sentence), so the TTS span still carries audio Opik can play, and nothing
//! leaves the machine. With `OPENAI_API_KEY` set, OpenAI's speech endpoint says the text (as a
//! WAV too).

use crate::llm::Speed;
use async_openai::config::OpenAIConfig;
use async_openai::types::audio::{
    CreateSpeechRequestArgs, SpeechModel, SpeechResponseFormat, Voice,
};
use std::io::Cursor;
use std::time::Duration;

/// The sample rate of the stand-in's audio: telephone quality, small files.
const SAMPLE_RATE: u32 = 16_000;
/// How long the stand-in sounds each word (seconds).
const WORD_SECONDS: f32 = 0.12;

enum Backend {
    Offline,
    OpenAi(Box<async_openai::Client<OpenAIConfig>>),
}

/// The speech engine.
pub struct Tts {
    speed: Speed,
    backend: Backend,
}

impl serde::Serialize for Tts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self.backend {
            Backend::Offline => "offline stand-in (tones)",
            Backend::OpenAi(_) => "openai gpt-4o-mini-tts",
        })
    }
}

/// What the speech engine produced.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Speech {
    pub voice: &'static str,
    pub audio_ms: u64,
    pub characters: usize,
    /// The audio, a WAV file (sent as the span's attachment, not in its output).
    #[serde(skip)]
    pub wav: Vec<u8>,
}

impl Tts {
    /// The offline stand-in.
    pub fn offline(speed: Speed) -> Self {
        Tts {
            speed,
            backend: Backend::Offline,
        }
    }

    /// OpenAI's speech when `OPENAI_API_KEY` is set (at `OPENAI_BASE_URL` if set), else the
    /// stand-in.
    pub fn from_env(speed: Speed) -> Self {
        let Some(key) = std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
        else {
            return Self::offline(speed);
        };
        let mut config = OpenAIConfig::new().with_api_key(key);
        if let Some(base) = std::env::var("OPENAI_BASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            config = config.with_api_base(base.trim_end_matches('/'));
        }
        Tts {
            speed: Speed(1.0),
            backend: Backend::OpenAi(Box::new(async_openai::Client::with_config(config))),
        }
    }

    /// Says `text`. The stand-in takes about as long as a cloud TTS does for a sentence.
    pub async fn speak(&self, text: &str) -> Result<Speech, String> {
        let words = text.split_whitespace().count();
        let characters = text.chars().count();
        match &self.backend {
            Backend::Offline => {
                self.speed
                    .sleep(Duration::from_millis(300 + 35 * words as u64))
                    .await;
                let wav = tones(words);
                Ok(Speech {
                    voice: "offline-stand-in/tones",
                    audio_ms: (words as f32 * WORD_SECONDS * 1000.0) as u64,
                    characters,
                    wav,
                })
            }
            Backend::OpenAi(client) => {
                let request = CreateSpeechRequestArgs::default()
                    .input(text)
                    .model(SpeechModel::Other("gpt-4o-mini-tts".into()))
                    .voice(Voice::Alloy)
                    .response_format(SpeechResponseFormat::Wav)
                    .build()
                    .map_err(|e| e.to_string())?;
                let response = client
                    .audio()
                    .speech()
                    .create(request)
                    .await
                    .map_err(|e| e.to_string())?;
                let wav = response.bytes.to_vec();
                Ok(Speech {
                    voice: "openai/alloy",
                    audio_ms: wav_ms(&wav),
                    characters,
                    wav,
                })
            }
        }
    }
}

/// A WAV of one short tone per word, rising like a sentence's melody (16-bit mono).
fn tones(words: usize) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    // Writing to memory cannot fail but for a bug; the speech is then silent, not a crash.
    let written = (|| -> Result<(), hound::Error> {
        let mut w = hound::WavWriter::new(&mut out, spec)?;
        let per_word = (WORD_SECONDS * SAMPLE_RATE as f32) as u32;
        for word in 0..words.max(1) {
            let pitch = 220.0 * 2f32.powf((word % 8) as f32 / 12.0);
            for i in 0..per_word {
                let t = i as f32 / SAMPLE_RATE as f32;
                // A soft attack and release, so the tones do not click.
                let envelope = (i.min(per_word - i) as f32 / 400.0).min(1.0);
                let sample = (t * pitch * std::f32::consts::TAU).sin() * envelope * 0.3;
                w.write_sample((sample * f32::from(i16::MAX)) as i16)?;
            }
        }
        w.finalize()
    })();
    if written.is_err() {
        return Vec::new();
    }
    out.into_inner()
}

/// The length of a WAV's audio, from its header.
fn wav_ms(wav: &[u8]) -> u64 {
    hound::WavReader::new(Cursor::new(wav))
        .map(|r| u64::from(r.duration()) * 1000 / u64::from(r.spec().sample_rate.max(1)))
        .unwrap_or(0)
}
