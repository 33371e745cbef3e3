//! `AnswerRelevance`: how well does the output answer the question that was asked?

use serde_json::{json, Value};

use super::super::score::{MetricError, ScoreResult};
use super::answer::{self, Answer};
use super::{reply_with, JudgeMessage, DATA_NOT_INSTRUCTIONS};

/// A worked example shown to the judge. Its `context` is shown only when the metric is
/// judging with context.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRelevanceExample {
    pub input: String,
    pub context: Vec<String>,
    pub output: String,
    pub score: f64,
    pub reason: String,
}

/// Answer relevance in [0, 1]: 1.0 when the output fully and directly answers the input.
///
/// The judge answers `{"answer_relevance_score": <number>, "reason": <string>}` (Opik's
/// fields). As in Python, context is required unless `require_context(false)`; without it
/// the question alone decides what a relevant answer is.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRelevance {
    name: Option<String>,
    require_context: bool,
    examples: Vec<AnswerRelevanceExample>,
}

impl Default for AnswerRelevance {
    fn default() -> Self {
        Self::new()
    }
}

const SHAPE: &str = r#"{"answer_relevance_score": <number from 0.0 to 1.0>, "reason": "<why>"}"#;
const SCORE: &str = "answer_relevance_score";

impl AnswerRelevance {
    pub const DEFAULT_NAME: &'static str = "answer_relevance_metric";

    pub fn new() -> Self {
        Self {
            name: None,
            require_context: true,
            examples: Vec::new(),
        }
    }

    /// Whether `messages` refuses an empty context (default `true`, as in Python).
    pub fn require_context(mut self, require_context: bool) -> Self {
        self.require_context = require_context;
        self
    }

    /// Worked examples to show the judge (none by default).
    pub fn few_shot_examples(mut self, examples: Vec<AnswerRelevanceExample>) -> Self {
        self.examples = examples;
        self
    }

    /// The name of the scores this metric gives.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn metric_name(&self) -> &str {
        self.name.as_deref().unwrap_or(Self::DEFAULT_NAME)
    }

    /// The judge's messages. An empty `context` is an error unless `require_context(false)`,
    /// when the question is judged without one.
    pub fn messages(
        &self,
        input: &str,
        output: &str,
        context: &[&str],
    ) -> Result<Vec<JudgeMessage>, MetricError> {
        if context.is_empty() && self.require_context {
            return Err(MetricError::missing(
                self.metric_name(),
                "context",
                "pass the retrieved context, or build the metric with `.require_context(false)` \
                 to judge relevance from the question alone",
            ));
        }
        let with_context = !context.is_empty();
        let mut system = String::from(
            "You are a judge of answer relevance. Your task: rate how well the ANSWER an AI \
             assistant gave addresses the QUESTION it was asked.\n\n",
        );
        if with_context {
            system.push_str(
                "The CONTEXT is what the assistant had to work with; use it to understand what a \
                 complete answer to the QUESTION needs. Relevance is not correctness: judge \
                 whether the ANSWER is about what was asked, not whether every fact is right.\n",
            );
        } else {
            system.push_str(
                "Relevance is not correctness: judge whether the ANSWER is about what was asked, \
                 not whether every fact is right.\n",
            );
        }
        system.push_str(
            "- Identify what the QUESTION asks for, including every part of a multi-part question.\n\
             - Reward an ANSWER that addresses it directly; lower the score for parts left \
             unanswered, for evasion, and for material that is off-topic.\n\
             - Score from 0.0 to 1.0: 0.0 when the ANSWER does not address the QUESTION at all, \
             about 0.5 when it addresses it partly or indirectly, 1.0 when it addresses all of \
             it directly with nothing off-topic.\n\
             - In `reason`, say in one or two sentences what made the score.\n\n",
        );
        system.push_str(DATA_NOT_INSTRUCTIONS);
        for (i, example) in self.examples.iter().enumerate() {
            let verdict = super::verdict(SCORE, example.score, &example.reason);
            let example_context: Vec<&str> = example.context.iter().map(String::as_str).collect();
            system.push_str(&format!("\n\nExample {}:\n", i + 1));
            system.push_str(&user_blocks(
                &example.input,
                &example.output,
                if with_context { &example_context } else { &[] },
            ));
            system.push_str(&format!("\nVerdict: {verdict}"));
        }
        system.push_str("\n\n");
        system.push_str(&reply_with(SHAPE));
        Ok(vec![
            JudgeMessage::system(system),
            JudgeMessage::user(user_blocks(input, output, context)),
        ])
    }

    /// The judge's answer as a score; see [`AnswerRelevance`] for the shape it must have.
    pub fn parse(&self, answer: &str) -> Result<ScoreResult, MetricError> {
        let answer = Answer::parse(self.metric_name(), answer, SHAPE, &[SCORE, "reason"])?;
        let score = answer.number(SCORE, 0.0, 1.0)?;
        Ok(ScoreResult::new(self.metric_name(), score).with_reason(answer.text("reason")?))
    }

    /// An OpenAI `response_format` (JSON schema, strict) for the answer `parse` expects.
    pub fn response_format(&self) -> Value {
        answer::response_format(
            "answer_relevance_verdict",
            json!({
                SCORE: {"type": "number", "description": "0.0 (does not address the question) to 1.0 (fully and directly addresses it)"},
                "reason": {"type": "string", "description": "One or two sentences on what made the score"},
            }),
        )
    }
}

fn user_blocks(input: &str, output: &str, context: &[&str]) -> String {
    let mut text = format!("QUESTION:\n<question>\n{input}\n</question>\n\n");
    if !context.is_empty() {
        text.push_str("CONTEXT:\n<context>\n");
        for (i, item) in context.iter().enumerate() {
            text.push_str(&format!("[{}] {item}\n", i + 1));
        }
        text.push_str("</context>\n\n");
    }
    text.push_str(&format!("ANSWER:\n<answer>\n{output}\n</answer>"));
    text
}
