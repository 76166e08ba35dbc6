//! shared/seeds/001: the seed's example events give the verdicts its rules imply.

use mcp_threatscan::{Action, Engine, Event, Severity};

fn event(tool: &str, prompt: &str, response: &str) -> Event {
    Event {
        timestamp: "2024-01-15T14:30:00Z".into(),
        user: "alice".into(),
        agent: "ChatBot".into(),
        tool: tool.into(),
        prompt: prompt.into(),
        response: response.into(),
        ..Default::default()
    }
}

#[test]
fn seed_single_event_is_allowed() {
    let engine = Engine::new().unwrap();
    let v = engine.scan(
        &Event::from_json(
            br#"{
      "timestamp": "2023-12-01T10:30:00Z", "user": "user@example.com", "agent": "claude-3",
      "tool": "filesystem", "prompt": "Read the configuration file",
      "response": "File contents: {...}" }"#,
        )
        .unwrap(),
    );
    eqnice!(Action::Allow, v.action, "seed single event");
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

#[test]
fn os_shell_is_blocked_as_a_dangerous_tool() {
    let engine = Engine::new().unwrap();
    let v = engine.scan(&event("os_shell", "Run whoami command", "user123"));
    eqnice!(Action::Block, v.action, "os_shell");
    eqnice!(Some(Severity::Critical), v.severity, "os_shell severity");
    let f = &v.findings[0];
    eqnice!("DT-001", &*f.rule, "rule");
    eqnice!("SEC-42", &*f.detector, "detector");
    eqnice!("dangerous_tool", &*f.category, "category");
    eqnice!("tool", f.path.as_str(), "path");
}

#[test]
fn each_seed_keyword_is_flagged_as_suspicious() {
    let engine = Engine::new().unwrap();
    for (kw, rule) in [
        ("delete all", "KW-001"),
        ("ignore instructions", "KW-002"),
        ("export database", "KW-003"),
        ("shell", "KW-004"),
        ("sudo", "KW-005"),
        ("<script>", "KW-006"),
        ("<system>", "KW-007"),
    ] {
        let prompt = format!("please {kw} now");
        let v = engine.scan(&event("notes", &prompt, "ok"));
        assert!(v.has_rule(rule), "{kw}: {:?}", v.findings);
        let f = v.findings.iter().find(|f| &*f.rule == rule).unwrap();
        // Reported, at a severity that does not warn or block on its own (issue 3).
        eqnice!(Severity::Low, f.severity, "{kw}");
        eqnice!(kw, &prompt[f.span.start..f.span.end], "span of {kw}");
    }
}

#[test]
fn size_limits_follow_the_seed() {
    let engine = Engine::new().unwrap();
    let v = engine.scan(&event("notes", &"a".repeat(3000), &"b".repeat(5000)));
    assert!(v.findings.is_empty(), "at the limit: {:?}", v.findings);
    let v = engine.scan(&event("notes", &"é".repeat(3001), &"b".repeat(5001)));
    assert!(v.has_rule("SZ-001") && v.has_rule("SZ-002"), "{:?}", v.findings);
    let f = v.findings.iter().find(|f| &*f.rule == "SZ-001").unwrap();
    eqnice!(3000 * 2, f.span.start, "oversize span starts at the first character past the limit");
}

#[test]
fn seed_injection_patterns_are_detected() {
    let engine = Engine::new().unwrap();
    for (prompt, category) in [
        ("search tickets where subject = '' OR '1'='1", "sql_injection"),
        ("ping 127.0.0.1; cat /etc/passwd", "command_injection"),
        ("<img src=x onerror=alert(document.cookie)>", "code_injection"),
    ] {
        let v = engine.scan(&event("search", prompt, ""));
        assert!(v.findings_in(category).next().is_some(), "{prompt}: {:?}", v.findings);
        eqnice!(Action::Block, v.action, "{prompt}");
    }
}
