//! Evaluation metrics: heuristic ones that score an output against a reference, and
//! LLM-judge ones that build a judge prompt and parse the judge's answer.
//!
//! Names, options, defaults and values follow Opik's Python SDK (2.2.122), so scores from
//! either SDK are comparable in Opik's UI; where the Rust metric behaves differently, its
//! documentation says how. The module refers to itself only through `self::`/`super::`
//! paths, so it can be mounted anywhere in a crate.

mod bleu;
mod contains;
mod equals;
mod is_json;
mod judge;
mod levenshtein_ratio;
mod porter;
mod regex_match;
mod rouge;
mod score;
mod text;

#[cfg(test)]
mod tests;

pub use self::bleu::{CorpusBleu, SentenceBleu, Smoothing};
pub use self::contains::Contains;
pub use self::equals::Equals;
pub use self::is_json::IsJson;
pub use self::judge::{
    AnswerRelevance, AnswerRelevanceExample, GEval, Hallucination, HallucinationExample,
    JudgeMessage, JudgeRole, Moderation, ModerationExample,
};
pub use self::levenshtein_ratio::LevenshteinRatio;
pub use self::regex_match::RegexMatch;
pub use self::rouge::{Rouge, RougeTokenizer, RougeType};
pub use self::score::{MetricError, MetricErrorKind, ScoreResult};
