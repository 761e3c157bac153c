//! The DNS data plane against a tiny authoritative server on the loopback (no network here): a
//! UDP socket answering with messages built from hickory-proto's types.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tandem_aws::dns::{DnsError, query_name_servers, resolve};
use tokio::net::UdpSocket;

/// The zone the test server is authoritative for: names to their records.
fn zone() -> HashMap<String, Vec<RData>> {
    let name = |n: &str| Name::from_ascii(n).unwrap();
    HashMap::from([
        (
            "app.example.test.".to_string(),
            vec![
                RData::A(A(Ipv4Addr::new(192, 0, 2, 10))),
                RData::A(A(Ipv4Addr::new(192, 0, 2, 11))),
                RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10))),
            ],
        ),
        (
            "www.example.test.".to_string(),
            vec![RData::CNAME(CNAME(name("app.example.test.")))],
        ),
        ("empty.example.test.".to_string(), vec![]),
    ])
}

/// The answer to one query: the records of the name and type asked (following a CNAME within the
/// zone, as an authoritative server does), NXDOMAIN for a name the zone lacks.
fn answer(query: &Message) -> Message {
    let zone = zone();
    let mut resp = Message::new();
    resp.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_authoritative(true);
    for q in query.queries() {
        resp.add_query(q.clone());
        let mut name = q.name().clone();
        loop {
            let key = name.to_ascii().to_ascii_lowercase();
            let Some(records) = zone.get(&key) else {
                resp.set_response_code(ResponseCode::NXDomain);
                break;
            };
            let mut next = None;
            for rdata in records {
                let ty = rdata.record_type();
                if ty == q.query_type() || ty == RecordType::CNAME {
                    resp.add_answer(Record::from_rdata(name.clone(), 60, rdata.clone()));
                }
                if let RData::CNAME(CNAME(target)) = rdata {
                    next = Some(target.clone());
                }
            }
            match next {
                Some(n) => name = n,
                None => break,
            }
        }
    }
    resp
}

/// A UDP name server on 127.0.0.1 answering from [`zone`]; counts the queries it answered.
async fn name_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let bytes = answer(&query).to_vec().unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let _ = socket.send_to(&bytes, from).await;
        }
    });
    (addr, answered)
}

/// A UDP socket that never answers.
async fn silent_server() -> (SocketAddr, UdpSocket) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (socket.local_addr().unwrap(), socket)
}

const TIMEOUT: Duration = Duration::from_millis(800);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_servers_are_asked_directly() {
    let (addr, answered) = name_server().await;
    let servers = vec![addr.to_string()];
    let a = query_name_servers(&servers, "app.example.test", TIMEOUT)
        .await
        .unwrap();
    let mut got = a.addresses.clone();
    got.sort();
    assert_eq!(
        got,
        [
            IpAddr::from([192, 0, 2, 10]),
            IpAddr::from([192, 0, 2, 11]),
            "2001:db8::10".parse().unwrap(),
        ]
    );
    assert_eq!(a.server, addr.to_string());
    assert_eq!(a.address, addr);
    assert!(
        answered.load(Ordering::SeqCst) >= 2,
        "A and AAAA were asked"
    );

    // A CNAME within the answer is followed; the name's case and trailing dot do not matter.
    let w = query_name_servers(&servers, "WWW.example.test.", TIMEOUT)
        .await
        .unwrap();
    assert!(
        w.addresses.contains(&IpAddr::from([192, 0, 2, 10])),
        "{w:?}"
    );

    // An authoritative "no such name" and "no such record" are answers with no addresses.
    for name in ["missing.example.test", "empty.example.test"] {
        let none = query_name_servers(&servers, name, TIMEOUT).await.unwrap();
        assert!(none.addresses.is_empty(), "{name}: {none:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_passed_over_and_named() {
    let (good, _) = name_server().await;
    let (silent, _keep) = silent_server().await;
    // A host name is resolved with the system resolver (localhost: the hosts file).
    let servers = vec![silent.to_string(), format!("localhost:{}", good.port())];
    let started = Instant::now();
    let a = query_name_servers(&servers, "app.example.test", TIMEOUT)
        .await
        .unwrap();
    assert_eq!(a.server, format!("localhost:{}", good.port()));
    assert_eq!(a.address, good);
    assert!(started.elapsed() < TIMEOUT * 4, "{:?}", started.elapsed());

    // None answers: every server is named, with why.
    let e = query_name_servers(&[silent.to_string()], "app.example.test", TIMEOUT)
        .await
        .unwrap_err();
    match &e {
        DnsError::NoAnswer { name, failures } => {
            assert_eq!(name, "app.example.test");
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert!(failures[0].contains(&silent.to_string()), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        query_name_servers(&[], "app.example.test", TIMEOUT).await,
        Err(DnsError::NoNameServers { .. })
    ));
    assert!(matches!(
        query_name_servers(&[good.to_string()], "", TIMEOUT).await,
        Err(DnsError::InvalidName { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_resolver_maps_names_to_addresses() {
    let local = resolve("localhost", TIMEOUT).await.unwrap();
    assert!(
        local.contains(&IpAddr::from([127, 0, 0, 1]))
            || local.contains(&IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        "{local:?}"
    );
    assert_eq!(
        resolve("192.0.2.7", TIMEOUT).await.unwrap(),
        [IpAddr::from([192, 0, 2, 7])]
    );
    let e = resolve("no-such-name.invalid", TIMEOUT).await;
    assert!(matches!(e, Err(DnsError::System { .. })), "{e:?}");
}
