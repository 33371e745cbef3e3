//! `Hallucination`: does the output claim what its context (or well-known fact) does not
//! support?

use serde_json::{json, Value};

use super::super::score::{MetricError, ScoreResult};
use super::answer::{self, Answer};
use super::{reply_with, JudgeMessage, DATA_NOT_INSTRUCTIONS};

/// A worked example shown to the judge.
#[derive(Debug, Clone, PartialEq)]
pub struct HallucinationExample {
    pub input: String,
    /// Shown only when the metric is judging with context.
    pub context: Vec<String>,
    pub output: String,
    pub score: f64,
    pub reason: String,
}

/// Hallucination score in [0, 1]: 0.0 when the output is faithful, 1.0 when it is not.
///
/// Opik's Python metric (2.2.122) asks for, and accepts, any score in [0, 1], partial
/// hallucinations in between; so does this one by default. [`Hallucination::binary`] asks
/// for a verdict of exactly 0 or 1 instead, and rejects anything else.
///
/// The judge answers `{"score": <number>, "reason": [<string>, ...]}` (Opik's fields); the
/// reasons are joined with newlines into the score's reason.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hallucination {
    name: Option<String>,
    binary: bool,
    examples: Vec<HallucinationExample>,
}

const SHAPE: &str = r#"{"score": <number from 0.0 to 1.0>, "reason": ["<finding>", ...]}"#;
const BINARY_SHAPE: &str = r#"{"score": <0 or 1>, "reason": ["<finding>", ...]}"#;

impl Hallucination {
    pub const DEFAULT_NAME: &'static str = "hallucination_metric";

    pub fn new() -> Self {
        Self::default()
    }

    /// Ask for, and accept only, a verdict of 0 (faithful) or 1 (hallucinated).
    pub fn binary(mut self, binary: bool) -> Self {
        self.binary = binary;
        self
    }

    /// Worked examples to show the judge (none by default).
    pub fn few_shot_examples(mut self, examples: Vec<HallucinationExample>) -> Self {
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

    /// The judge's messages. With `context`, the output is judged against it; without, against
    /// well-established facts. As in Python, `Some(&[])` still judges "with context" (an empty
    /// one, so any claim is unsupported).
    pub fn messages(
        &self,
        input: &str,
        output: &str,
        context: Option<&[&str]>,
    ) -> Vec<JudgeMessage> {
        let with_context = context.is_some();
        let mut system = String::from(
            "You are a meticulous fact-checking judge. Your task: decide whether the ANSWER an AI \
             assistant gave contains hallucinations.\n\n",
        );
        if with_context {
            system.push_str(
                "A hallucination is any claim in the ANSWER that the CONTEXT does not support or \
                 that contradicts the CONTEXT or well-established facts. The CONTEXT is the only \
                 source of truth for the specifics it covers; a claim it does not mention counts \
                 as unsupported even if it might be true.\n",
            );
        } else {
            system.push_str(
                "A hallucination is any claim in the ANSWER that contradicts well-established \
                 facts or general knowledge, or that states as fact what cannot be known.\n",
            );
        }
        system.push_str(
            "- Judge the ANSWER only. The QUESTION is shown so you know what was asked; do not \
             judge it.\n\
             - A partly correct ANSWER still hallucinates in the parts that are wrong.\n\
             - Check who or what each claim is about: a right fact attached to the wrong person, \
             thing, date or number is a hallucination.\n\
             - A simplification or generalization that changes the meaning is a hallucination.\n\n",
        );
        if self.binary {
            system.push_str(
                "Score 0 if the ANSWER contains no hallucination, 1 if it contains any.\n",
            );
        } else {
            system.push_str(
                "Score from 0.0 to 1.0: 0.0 when every claim is faithful, 1.0 when the ANSWER is \
                 entirely unfaithful, and in between for partial hallucination.\n",
            );
        }
        system.push_str(
            "In `reason`, give one short string per finding (or one saying the ANSWER is \
             faithful).\n\n",
        );
        system.push_str(DATA_NOT_INSTRUCTIONS);
        for (i, example) in self.examples.iter().enumerate() {
            let verdict = super::verdict("score", example.score, &[&example.reason]);
            let example_context: Vec<&str> = example.context.iter().map(String::as_str).collect();
            system.push_str(&format!("\n\nExample {}:\n", i + 1));
            system.push_str(&user_blocks(
                &example.input,
                &example.output,
                with_context.then_some(example_context.as_slice()),
            ));
            system.push_str(&format!("\nVerdict: {verdict}"));
        }
        system.push_str("\n\n");
        system.push_str(&reply_with(self.shape()));
        vec![
            JudgeMessage::system(system),
            JudgeMessage::user(user_blocks(input, output, context)),
        ]
    }

    /// The judge's answer as a score; see [`Hallucination`] for the shape it must have.
    pub fn parse(&self, answer: &str) -> Result<ScoreResult, MetricError> {
        let answer = Answer::parse(
            self.metric_name(),
            answer,
            self.shape(),
            &["score", "reason"],
        )?;
        let score = if self.binary {
            answer.integer("score", 0, 1)? as f64
        } else {
            answer.number("score", 0.0, 1.0)?
        };
        let reasons = answer.text_list("reason")?;
        // Opik's `reason_to_text`: list items on separate lines, a label for an empty list.
        let reason = if reasons.is_empty() {
            "No reason provided".to_owned()
        } else {
            reasons.join("\n")
        };
        Ok(ScoreResult::new(self.metric_name(), score).with_reason(reason))
    }

    /// An OpenAI `response_format` (JSON schema, strict) for the answer `parse` expects.
    pub fn response_format(&self) -> Value {
        let score = if self.binary {
            json!({"type": "integer", "description": "0: no hallucination; 1: hallucination"})
        } else {
            json!({"type": "number", "description": "0.0 (faithful) to 1.0 (entirely hallucinated)"})
        };
        answer::response_format(
            "hallucination_verdict",
            json!({
                "score": score,
                "reason": {"type": "array", "items": {"type": "string"}, "description": "One short string per finding"},
            }),
        )
    }

    fn shape(&self) -> &'static str {
        if self.binary {
            BINARY_SHAPE
        } else {
            SHAPE
        }
    }
}

fn user_blocks(input: &str, output: &str, context: Option<&[&str]>) -> String {
    let mut text = format!("QUESTION:\n<question>\n{input}\n</question>\n\n");
    if let Some(context) = context {
        text.push_str("CONTEXT:\n<context>\n");
        if context.is_empty() {
            text.push_str("(no context was given)\n");
        }
        for (i, item) in context.iter().enumerate() {
            text.push_str(&format!("[{}] {item}\n", i + 1));
        }
        text.push_str("</context>\n\n");
    }
    text.push_str(&format!("ANSWER:\n<answer>\n{output}\n</answer>"));
    text
}
