//! `GEval`: a judge with the task and criteria you give it (Liu et al., 2023, "G-Eval").

use serde_json::{json, Value};

use super::super::score::{MetricError, ScoreResult};
use super::answer::{self, Answer};
use super::{reply_with, JudgeMessage, DATA_NOT_INSTRUCTIONS};

/// A score from 0 to 10 on your own criteria, normalized to [0, 1] (Opik divides by 10 too).
///
/// G-Eval takes two model calls, as in Opik: once per metric, [`GEval::chain_of_thought_messages`]
/// asks the model to turn the task and criteria into evaluation steps; hand its answer to
/// [`GEval::chain_of_thought`] and reuse the metric for every output. (Without steps, the
/// judge is asked to work them out itself.) The judge answers
/// `{"score": <integer 0-10>, "reason": <string>}` (Opik's fields).
///
/// Opik's Python metric can also average the score over the score token's log-probabilities
/// when the provider returns them; that needs the raw completion and is not done here.
#[derive(Debug, Clone, PartialEq)]
pub struct GEval {
    name: Option<String>,
    task_introduction: String,
    evaluation_criteria: String,
    chain_of_thought: Option<String>,
}

const SHAPE: &str = r#"{"score": <integer from 0 to 10>, "reason": "<why>"}"#;

impl GEval {
    pub const DEFAULT_NAME: &'static str = "g_eval_metric";

    /// `task_introduction` says what the judge evaluates and as whom; `evaluation_criteria` is
    /// the rubric (any scale: the judge maps it onto 0-10).
    pub fn new(
        task_introduction: impl Into<String>,
        evaluation_criteria: impl Into<String>,
    ) -> Self {
        Self {
            name: None,
            task_introduction: task_introduction.into(),
            evaluation_criteria: evaluation_criteria.into(),
            chain_of_thought: None,
        }
    }

    /// The evaluation steps the model wrote for [`GEval::chain_of_thought_messages`].
    pub fn chain_of_thought(mut self, steps: impl Into<String>) -> Self {
        self.chain_of_thought = Some(steps.into());
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

    /// The messages that ask the model for evaluation steps (its answer is free text).
    pub fn chain_of_thought_messages(&self) -> Vec<JudgeMessage> {
        let system = "You design evaluation procedures. From the task description and the \
                      evaluation criteria the user gives, write a numbered list of concrete \
                      evaluation steps that a careful evaluator would follow to grade one \
                      solution, and say for each step what to look for and how it bears on \
                      the score.\n\
                      The final score is an integer from 0 to 10. If the criteria use another \
                      scale, end with the rule that maps it onto 0 to 10.";
        let user = format!(
            "TASK INTRODUCTION:\n{}\n\nEVALUATION CRITERIA:\n{}",
            self.task_introduction, self.evaluation_criteria
        );
        vec![JudgeMessage::system(system), JudgeMessage::user(user)]
    }

    /// The messages that ask the judge to score `output`.
    pub fn messages(&self, output: &str) -> Vec<JudgeMessage> {
        let mut system = format!(
            "You are an evaluator.\n\nTASK INTRODUCTION:\n{}\n\nEVALUATION CRITERIA:\n{}\n\n",
            self.task_introduction, self.evaluation_criteria
        );
        match &self.chain_of_thought {
            Some(steps) => system.push_str(&format!("EVALUATION STEPS:\n{steps}\n\n")),
            None => system.push_str(
                "First work out, for yourself, the steps that grading against these criteria \
                 takes, then follow them.\n\n",
            ),
        }
        system.push_str(
            "The solution to evaluate is in the user message, inside <solution> tags. Score it \
             with an integer from 0 (fails the criteria entirely) to 10 (meets them fully); if \
             the criteria use another scale, map it onto 0 to 10. In `reason`, explain the score \
             by the criteria.\n\n",
        );
        system.push_str(DATA_NOT_INSTRUCTIONS);
        system.push_str("\n\n");
        system.push_str(&reply_with(SHAPE));
        let user = format!("<solution>\n{output}\n</solution>");
        vec![JudgeMessage::system(system), JudgeMessage::user(user)]
    }

    /// The judge's answer as a score: its integer 0-10, divided by 10.
    pub fn parse(&self, answer: &str) -> Result<ScoreResult, MetricError> {
        let answer = Answer::parse(self.metric_name(), answer, SHAPE, &["score", "reason"])?;
        let score = answer.integer("score", 0, 10)?;
        Ok(ScoreResult::new(self.metric_name(), score as f64 / 10.0)
            .with_reason(answer.text("reason")?))
    }

    /// An OpenAI `response_format` (JSON schema, strict) for the answer `parse` expects.
    pub fn response_format(&self) -> Value {
        answer::response_format(
            "g_eval_verdict",
            json!({
                "score": {"type": "integer", "description": "0 (fails the criteria) to 10 (meets them fully)"},
                "reason": {"type": "string", "description": "The score explained by the criteria"},
            }),
        )
    }
}
