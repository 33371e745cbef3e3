//! The heuristic metrics as [`SyncMetric`]s: which arguments each reads, with the Python
//! SDK's names (`output`, `reference`; a list of references for BLEU and ROUGE).

use super::args::MetricArgs;
use super::metric::{Contains, Equals, IsJson, LevenshteinRatio, RegexMatch, Rouge, SentenceBleu};
use super::scoring::{MetricResult, SyncMetric};

impl SyncMetric for Equals {
    fn name(&self) -> &str {
        self.metric_name()
    }
    fn score(&self, args: &MetricArgs) -> MetricResult {
        Ok(vec![Equals::score(
            self,
            args.text("output")?,
            Some(args.text("reference")?),
        )?])
    }
}

impl SyncMetric for Contains {
    fn name(&self) -> &str {
        self.metric_name()
    }
    /// `reference` may be left out when the metric has a default one.
    fn score(&self, args: &MetricArgs) -> MetricResult {
        Ok(vec![Contains::score(
            self,
            args.text("output")?,
            args.opt_text("reference")?,
        )?])
    }
}

impl SyncMetric for RegexMatch {
    fn name(&self) -> &str {
        self.metric_name()
    }
    fn score(&self, args: &MetricArgs) -> MetricResult {
        Ok(vec![RegexMatch::score(self, args.text("output")?, None)?])
    }
}

impl SyncMetric for IsJson {
    fn name(&self) -> &str {
        self.metric_name()
    }
    fn score(&self, args: &MetricArgs) -> MetricResult {
        Ok(vec![IsJson::score(self, args.text("output")?, None)?])
    }
}

impl SyncMetric for LevenshteinRatio {
    fn name(&self) -> &str {
        self.metric_name()
    }
    fn score(&self, args: &MetricArgs) -> MetricResult {
        Ok(vec![LevenshteinRatio::score(
            self,
            args.text("output")?,
            Some(args.text("reference")?),
        )?])
    }
}

impl SyncMetric for SentenceBleu {
    fn name(&self) -> &str {
        self.metric_name()
    }
    /// `reference`: one reference, or a list of them.
    fn score(&self, args: &MetricArgs) -> MetricResult {
        let references = args.texts("reference")?;
        Ok(vec![self.score_multi(args.text("output")?, &references)?])
    }
}

impl SyncMetric for Rouge {
    fn name(&self) -> &str {
        self.metric_name()
    }
    /// `reference`: one reference, or a list of them (the best F-measure counts).
    fn score(&self, args: &MetricArgs) -> MetricResult {
        let references = args.texts("reference")?;
        Ok(vec![self.score_multi(args.text("output")?, &references)?])
    }
}

#[cfg(test)]
mod tests {
    use super::super::scoring::Metric;
    use super::*;
    use serde_json::json;

    fn run(metric: &dyn Metric, args: serde_json::Value) -> MetricResult {
        futures_util::FutureExt::now_or_never(metric.score(&MetricArgs::from_json(args)))
            .expect("a sync metric is ready at once")
    }

    #[test]
    fn heuristics_read_python_argument_names() {
        let args = json!({"output": "Slow down to 80 bpm", "reference": "slow down to 80 bpm"});
        assert_eq!(run(&Equals::new(), args.clone()).unwrap()[0].value, 1.0);
        assert_eq!(
            run(&LevenshteinRatio::new(), args.clone()).unwrap()[0].value,
            1.0
        );
        assert_eq!(
            run(
                &Contains::new().reference("80 bpm"),
                json!({"output": "at 80 BPM"})
            )
            .unwrap()[0]
                .value,
            1.0
        );
        assert_eq!(
            run(&IsJson::new(), json!({"output": "{\"a\":1}"})).unwrap()[0].value,
            1.0
        );
        let re = RegexMatch::new(r"\d+ bpm").unwrap();
        assert_eq!(run(&re, args.clone()).unwrap()[0].value, 1.0);
        let multi = json!({"output": "slow down", "reference": ["speed up", "slow down"]});
        assert_eq!(run(&Rouge::new(), multi.clone()).unwrap()[0].value, 1.0);
        assert!(run(&SentenceBleu::new(), multi).unwrap()[0].value > 0.0);
        let e = run(&Equals::new(), json!({"output": "x"})).unwrap_err();
        assert!(e.message.contains("`reference`"), "{e}");
    }
}
