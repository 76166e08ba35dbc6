//! Detection quality on the labelled development corpus, `../shared/corpus/dev.jsonl`, against
//! the targets of issue 3. The corpus stays in `shared/` (its payloads come from third-party
//! repositories): this test reads it where the project's checkout sits beside it, and says so
//! plainly when it is not there.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn corpus() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/dev.jsonl");
    path.exists().then_some(path)
}

#[test]
fn dev_corpus_meets_the_detection_targets() {
    let Some(path) = corpus() else {
        eprintln!("SKIPPED: ../shared/corpus/dev.jsonl is absent (it lives beside the checkout, not in it); detection targets not checked");
        return;
    };
    let out =
        Command::new(env!("CARGO_BIN_EXE_sentinel")).args(["eval", "--format", "json"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let recall = |c: &str| report["categories"][c]["recall"].as_f64().unwrap_or(0.0);
    let mut failures = Vec::new();
    for (category, target) in [
        ("credential_exposure", 0.95),
        ("pii_leakage", 0.95),
        ("sql_injection", 0.95),
        ("command_injection", 0.95),
        ("code_injection", 0.95),
        ("adversarial_unicode", 0.95),
        ("prompt_template_leakage", 0.95),
        ("dangerous_tool", 0.95),
        ("oversize", 0.95),
        ("prompt_injection", 0.85),
        ("jailbreak", 0.85),
        ("data_exfiltration", 0.85),
        ("retrieval_poisoning", 0.70),
    ] {
        if recall(category) < target {
            failures.push(format!("{category}: recall {:.3} < {target}", recall(category)));
        }
    }
    let rate = |k: &str| report[k]["rate"].as_f64().unwrap();
    if rate("threats_warned_or_blocked") < 0.97 {
        failures.push(format!("threats warned or blocked {:.4} < 0.97", rate("threats_warned_or_blocked")));
    }
    if rate("benign_blocked") > 0.005 {
        failures.push(format!("benign blocked {:.4} > 0.005", rate("benign_blocked")));
    }
    if rate("benign_warned_or_blocked") > 0.02 {
        failures.push(format!("benign warned or blocked {:.4} > 0.02", rate("benign_warned_or_blocked")));
    }
    assert!(failures.is_empty(), "targets missed on {}:\n{}", path.display(), failures.join("\n"));
}
