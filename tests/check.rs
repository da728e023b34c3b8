//! `awsgate check` over broken policy files: every error located at its line and column.
//! Each `tests/golden/check/NAME` has its expected output in `NAME.expected`; run with
//! `AWSGATE_BLESS=1` to rewrite them after a deliberate change, then review the diff.

use std::path::Path;
use std::process::Command;

fn check(dir: &Path, file: &str) -> (String, Option<i32>) {
    let output = Command::new(env!("CARGO_BIN_EXE_awsgate"))
        .arg("check")
        .arg(file)
        .current_dir(dir)
        .output()
        .expect("run awsgate check");
    (String::from_utf8(output.stdout).expect("utf-8"), output.status.code())
}

#[test]
fn broken_files_match_their_golden_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/check");
    let bless = std::env::var_os("AWSGATE_BLESS").is_some();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("name"))
        .filter(|n| !n.ends_with(".expected"))
        .collect();
    names.sort();
    assert!(names.len() >= 8);
    let mut mismatches = Vec::new();
    for name in &names {
        let (stdout, code) = check(&dir, name);
        assert_eq!(code, Some(1), "{name} should fail check:\n{stdout}");
        let expected_path = dir.join(format!("{name}.expected"));
        if bless {
            std::fs::write(&expected_path, &stdout).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if stdout != expected {
            mismatches.push(format!("--- {name}: expected\n{expected}--- got\n{stdout}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The locations that matter most, asserted directly rather than through blessed files.
#[test]
fn key_errors_point_at_the_offending_text() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/check");
    let (out, _) = check(&dir, "bad-actions.yaml");
    assert!(
        out.contains("bad-actions.yaml:6:9: error: unknown action `s3:GetObjects`; did you mean `s3:GetObject`?"),
        "{out}"
    );
    assert!(out.contains("bad-actions.yaml:10:9: warning: awsgate has no tools for service `redshift`"), "{out}");
    let (out, _) = check(&dir, "unknown-keys.yaml");
    assert!(
        out.contains("unknown-keys.yaml:3:1: error: unknown key `statments` in the policy; did you mean `statements`?"),
        "{out}"
    );
    let (out, _) = check(&dir, "bad-arns.yaml");
    assert!(out.contains("bad-arns.yaml:9:9: error: malformed ARN `arn:aws:s3::reports`"), "{out}");
    let (out, _) = check(&dir, "conditions.json");
    assert!(
        out.contains(
            "conditions.json:17:9: error: unknown condition operator `StringEqual`; did you mean `StringEquals`?"
        ),
        "{out}"
    );
    assert!(out.contains("conditions.json:18:24: error: awsgate cannot evaluate `aws:SourceVpce`"), "{out}");
    assert!(
        out.contains("conditions.json:20:44: error: `NumericLessThan` on `s3:max-keys`: `ten` is not a number"),
        "{out}"
    );
    assert!(!out.contains("conditions.json:9:"), "the valid condition block raised something:\n{out}");
    let (out, _) = check(&dir, "duplicate-key.yaml");
    assert!(out.contains("duplicate-key.yaml:6:5: error: duplicate key `effect` (first at line 4)"), "{out}");
    // AWS's validator: no wildcard in an ARN's service; a document without `Version` is
    // read as 2008-10-17, where `${...}` is text. Surrogate pairs are JSON.
    let (out, _) = check(&dir, "arn-service-wildcard.json");
    assert!(out.contains("arn-service-wildcard.json:1:1: warning: no `Version`: read as \"2008-10-17\""), "{out}");
    assert!(
        out.contains("arn-service-wildcard.json:6:58: error: `arn:aws:s*:::reports/*` has a wildcard in its service"),
        "{out}"
    );
    assert!(
        out.contains("arn-service-wildcard.json:11:19: warning: `arn:aws:s3:::${aws:username}` is matched literally"),
        "{out}"
    );
    assert_eq!(out.matches(": error:").count(), 1, "the surrogate pair is no error: {out}");
    // The 22 KB file that overflowed the stack: a located error instead.
    let (out, _) = check(&dir, "deep-nesting.yaml");
    assert!(out.contains("deep-nesting.yaml:1:129: error: lists and mappings nest deeper than 64 levels"), "{out}");
    let (out, _) = check(&dir, "deep-nesting.json");
    assert!(out.contains("deep-nesting.json:1:103: error: lists and mappings nest deeper than 64 levels"), "{out}");
    let (out, _) = check(&dir, "json-trailing-comma.json");
    assert!(
        out.contains("json-trailing-comma.json:1:102: error: invalid JSON: Trailing commas are not allowed"),
        "{out}"
    );
    // A policy's control characters never reach the terminal raw.
    let (out, _) = check(&dir, "control-characters.yaml");
    assert!(!out.chars().any(|c| c.is_control() && c != '\n') && !out.contains('\u{202e}'), "{out:?}");
    assert!(
        out.contains(
            "control-characters.yaml:2:7: error: `mode` must be `enforce` or `audit`, not `\\u{1b}[2Jaudit\\ttab`"
        ),
        "{out}"
    );
}

/// Loading stays near-linear: 100,000 keys in one mapping (40 s when duplicates were
/// found by a linear search) and 20,000 statements load in well under the time a
/// quadratic step would take. Generous bounds: this guards the complexity, not speed.
#[test]
fn large_policies_load_in_linear_time() {
    let dir = std::env::temp_dir().join(format!("awsgate-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let keys: String = (0..100_000).map(|i| format!("k{i}: 1\n")).collect();
    std::fs::write(dir.join("keys.yaml"), keys).expect("write");
    let mut statements = String::from("version: 1\nstatements:\n");
    for i in 0..20_000 {
        statements.push_str(&format!(
            "  - {{effect: allow, actions: [s3:GetObject, s3:ListBucket], resources: [\"arn:aws:s3:::b{i}\", \"arn:aws:s3:::b{i}/*\"]}}\n"
        ));
    }
    std::fs::write(dir.join("many.yaml"), statements).expect("write");
    for (file, command) in [("keys.yaml", "check"), ("many.yaml", "check"), ("many.yaml", "tools")] {
        let started = std::time::Instant::now();
        let mut run = Command::new(env!("CARGO_BIN_EXE_awsgate"));
        if command == "tools" {
            run.args(["tools", "--policy", file]);
        } else {
            run.args([command, file]);
        }
        let output = run.current_dir(&dir).output().expect("run");
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(20), "{command} {file} took {took:?}");
        assert!(!output.stdout.is_empty() || !output.stderr.is_empty());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_starter_policy_passes_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join("policies"))
        .expect("policies")
        .map(|e| format!("policies/{}", e.expect("entry").file_name().to_string_lossy()))
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let output =
        Command::new(env!("CARGO_BIN_EXE_awsgate")).arg("check").args(&files).current_dir(root).output().expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    for file in &files {
        assert!(stdout.contains(&format!("{file}: ok (")), "{file} not ok:\n{stdout}");
    }
    assert!(!stdout.contains(": error:"), "{stdout}");
}
