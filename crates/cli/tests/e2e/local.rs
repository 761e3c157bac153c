//! `tandem local up|status|down` for an environment whose file is not in the working directory:
//! the processes it starts must not need one.

use std::net::TcpListener;

use crate::support::Scratch;

fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect()
}

#[test]
fn local_cloud_up_status_down_from_any_directory() {
    let _serial = crate::support::serial();
    let s = Scratch::new();
    let envs = tempfile::tempdir().unwrap();
    let p = free_ports(5);
    std::fs::write(
        envs.path().join("elsewhere.toml"),
        format!(
            r#"[environment]
primary_region = "us-east-1"
secondary_region = "us-west-2"
domain_name = "elsewhere.tandem-test.example"
account_id = "123456789012"
stackset_admin_region = "us-west-2"
http_only = true
protect_stateful = false

[local_cloud]
moto_port = {}
global_port = {}
control_port = {}
region_ports = [{}, {}]
"#,
            p[0], p[1], p[2], p[3], p[4]
        ),
    )
    .unwrap();
    let envs_dir = envs.path().to_str().unwrap();
    let tandem = |args: &[&str]| {
        crate::support::Run::of(
            std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
                .current_dir(s.dir.path())
                .args(args)
                .args(["--env", "elsewhere", "--environments", envs_dir])
                .env_remove("AWS_ENDPOINT_URL"),
        )
    };
    // With the local cloud down, a simulated outage fails (at the account preflight, which no
    // region's STS answers), says what to start, and the state does not claim one.
    let outage = tandem(&["simulate-outage", "--region", "us-east-1"]);
    assert_eq!(outage.code, 1, "{}", outage.text());
    assert!(
        outage
            .stderr
            .contains("is the local cloud up? (`tandem local up`)"),
        "{}",
        outage.text()
    );
    let state = std::fs::read_to_string(
        s.dir
            .path()
            .join(".tandem/state/multi-region/elsewhere.state.json"),
    )
    .unwrap_or_default();
    assert!(!state.contains("simulated_outage"), "{state}");
    let up = tandem(&["local", "up"]);
    assert_eq!(up.code, 0, "{}", up.text());
    let status = tandem(&["local", "status"]);
    assert_eq!(status.code, 0, "{}", status.text());
    // The region gateway answers on the control port.
    let control = std::net::TcpStream::connect(("127.0.0.1", p[2]));
    assert!(control.is_ok(), "the control port does not answer");
    let down = tandem(&["local", "down"]);
    assert_eq!(down.code, 0, "{}", down.text());
    let after = tandem(&["local", "status"]);
    assert_ne!(after.code, 0, "{}", after.text());
}
