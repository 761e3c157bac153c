//! `secretsmanager:DatabaseSecret` against the local cloud: a secret made in one region with that
//! region's key and replicated to another with the other's key; a DB instance created and rotated
//! with its password. (That no file Tandem writes holds the password is checked by the
//! `secrets_at_rest` test binary.)
//!
//! What moto cannot tell (and these tests therefore do not assert): the key of a replica
//! (`ReplicationStatus` always names `alias/aws/secretsmanager`, and `DescribeSecret` in the
//! replica's region answers the primary's key), and whether RDS received the password (moto
//! stores `MasterUserPassword` but never returns it): the requests themselves are recorded on the
//! way to moto instead ([`RecordingProxy`]).

use std::sync::{Arc, Mutex, OnceLock};

use tandem_aws::rds::DbInstanceProvider;
use tandem_aws::secretsmanager::{
    DatabaseSecretProvider, SecretReplicaProvider, SecretText, read_credentials,
    replication_status, secret_arn_for_region,
};
use tandem_core::{ResourceDecl, StackBuilder, Value, map};
use tandem_engine::provider::Provider;
use tandem_engine::{PlanConfig, State, plan};
use tandem_schema::rds::DbInstance;
use tandem_schema::secretsmanager::{DatabaseSecret, RDS_EXCLUDED_CHARACTERS, SecretReplica};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    clients, clients_at, ctx_for, delete_for_good, local_clients, reads_back, str_prop, unique,
    update_reads_back, us_east_1, validate_and_create,
};

const KEY_EAST: &str = "arn:aws:kms:us-east-1:123456789012:key/secret-east";
const KEY_WEST: &str = "arn:aws:kms:us-west-2:123456789012:key/secret-west";

/// A unique secret name (the unique part then `/credentials`: a name ending with a hyphen and six
/// characters is refused).
pub fn secret_name(prefix: &str) -> String {
    format!("{}/credentials", unique(prefix))
}

/// A secret in us-east-1 with its key, replicated to us-west-2 with that region's key, deleted at
/// once (no recovery window: test names are not reused).
pub fn secret(name: &str) -> DatabaseSecret {
    DatabaseSecret::new(&us_east_1(), "app-db")
        .unwrap()
        .name(name)
        .kms_key_id(KEY_EAST)
        .replica_regions(map([("us-west-2", KEY_WEST)]))
        .force_delete_without_recovery(true)
}

/// The ARN of one secret holding `{"username": "tandem", "password": ...}`, made once per test
/// binary (on a runtime of its own, so that any test may ask for it), for the DB instances of the
/// RDS tests.
pub fn shared_db_secret_arn() -> &'static str {
    static ARN: OnceLock<String> = OnceLock::new();
    ARN.get_or_init(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let p = DatabaseSecretProvider::new(clients());
                let decl: ResourceDecl = DatabaseSecret::new(&us_east_1(), "shared-db")
                    .unwrap()
                    .name(secret_name("it/shared-db"))
                    .kms_key_id(KEY_EAST)
                    .into();
                let created = validate_and_create(&p, &decl).await.unwrap();
                str_prop(&created.outputs, "arn").to_string()
            })
        })
        .join()
        .unwrap()
    })
}

/// A loopback TCP proxy in front of moto that keeps every byte clients send, so that a test can
/// check what a request carried (moto does not return a DB instance's password).
struct RecordingProxy {
    endpoint: String,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl RecordingProxy {
    async fn start(target: &str) -> RecordingProxy {
        let target = target.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&sent);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            log.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                        let _ = sw.shutdown().await;
                    };
                    let down = async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        RecordingProxy { endpoint, sent }
    }

    /// Everything sent so far, as text, and forgets it.
    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.sent.lock().unwrap())).into_owned()
    }
}

/// `s` as it appears in a query-protocol (form) body.
fn form_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The password a request sent as `param`, if any.
fn sent_param<'a>(body: &'a str, param: &str) -> Option<&'a str> {
    let start = body.find(&format!("{param}="))? + param.len() + 1;
    let rest = &body[start..];
    Some(&rest[..rest.find(['&', '\r', '\n']).unwrap_or(rest.len())])
}

fn assert_rds_acceptable(password: &SecretText) {
    let p = password.expose();
    assert_eq!(p.len(), 30, "the default length");
    assert!(
        p.chars().all(|c| c.is_ascii_graphic()),
        "printable, no space"
    );
    assert!(
        !p.chars().any(|c| RDS_EXCLUDED_CHARACTERS.contains(c)),
        "none of {RDS_EXCLUDED_CHARACTERS}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_made_with_its_regions_key_is_replicated_with_the_others() {
    // The local cloud's settings: a replica's key is read back from the inputs (moto keeps none).
    let p = DatabaseSecretProvider::new(local_clients());
    let name = secret_name("it/db");
    let decl: ResourceDecl = secret(&name).into();
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    let arn = str_prop(&created.outputs, "arn").to_string();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-"
        )),
        "{arn}"
    );
    assert_eq!(created.id, arn);
    let west_arn = arn.replace(":us-east-1:", ":us-west-2:");
    assert_eq!(str_prop(&created.outputs, "arn_us-east-1"), arn);
    assert_eq!(str_prop(&created.outputs, "arn_us-west-2"), west_arn);
    reads_back(&p, &ctx, &arn, &decl.inputs).await;

    // Read back from the cloud in both regions, with the SDK directly.
    let east = clients().secretsmanager("us-east-1").await;
    let d = east.describe_secret().secret_id(&arn).send().await.unwrap();
    assert_eq!(
        d.kms_key_id(),
        Some(KEY_EAST),
        "encrypted with its region's key"
    );
    let status = d.replication_status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].region(), Some("us-west-2"));
    assert_eq!(status[0].status().map(|s| s.as_str()), Some("InSync"));
    let west = clients().secretsmanager("us-west-2").await;
    let r = west
        .describe_secret()
        .secret_id(&west_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(r.arn(), Some(west_arn.as_str()));
    assert_eq!(r.primary_region(), Some("us-east-1"));
    // The helpers: the secret as each region holds it, asking that region only.
    let c = clients();
    assert_eq!(
        secret_arn_for_region(&c, &arn, "us-west-2").await.unwrap(),
        Some(west_arn.clone())
    );
    assert_eq!(
        secret_arn_for_region(&c, &west_arn, "us-east-1")
            .await
            .unwrap(),
        Some(arn.clone())
    );
    assert_eq!(
        secret_arn_for_region(&c, &arn, "eu-west-1").await.unwrap(),
        None
    );
    let statuses = replication_status(&c, &arn).await.unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(
        (statuses[0].region.as_str(), statuses[0].status.as_str()),
        ("us-west-2", "InSync")
    );
    // The same credentials in both regions: a promoted writer reads them in its own.
    let in_east = read_credentials(&c, &arn).await.unwrap();
    let in_west = read_credentials(&c, &west_arn).await.unwrap();
    assert_eq!(in_east, in_west);
    assert_eq!(in_east.username, "tandem");
    assert_rds_acceptable(&in_east.password);

    // A rotation is a planned, in-place change: a new value, in both regions.
    let mut rotated = decl.inputs.clone();
    rotated.insert("password_generation".into(), Value::Int(1));
    update_reads_back(&p, &ctx, &arn, &decl.inputs, &rotated).await;
    let after = read_credentials(&c, &west_arn).await.unwrap();
    assert_ne!(after.password, in_east.password, "a new password");
    assert_rds_acceptable(&after.password);
    // Nothing else changes: the same inputs again put no new value.
    update_reads_back(&p, &ctx, &arn, &rotated, &rotated).await;
    assert_eq!(read_credentials(&c, &arn).await.unwrap(), after);

    // Replication follows `replica_regions`: removed, then added back.
    let mut alone = rotated.clone();
    alone.insert("replica_regions".into(), map::<&str, &str>([]));
    let updated = update_reads_back(&p, &ctx, &arn, &rotated, &alone).await;
    assert!(updated.outputs.get("arn_us-west-2").is_none());
    assert_eq!(
        secret_arn_for_region(&c, &arn, "us-west-2").await.unwrap(),
        None
    );
    let updated = update_reads_back(&p, &ctx, &arn, &alone, &rotated).await;
    assert_eq!(str_prop(&updated.outputs, "arn_us-west-2"), west_arn);
    assert_eq!(read_credentials(&c, &west_arn).await.unwrap(), after);

    // An interrupted create is adopted with its value, not made twice.
    let found = p.find(&ctx, &rotated).await.unwrap().unwrap();
    assert_eq!(found.id, arn);
    // A secret of another resource with the same name is refused.
    let other: ResourceDecl = DatabaseSecret::new(&us_east_1(), "someone-else")
        .unwrap()
        .name(name.as_str())
        .kms_key_id(KEY_EAST)
        .into();
    let e = validate_and_create(&p, &other).await.unwrap_err();
    assert!(e.contains("not this resource's"), "{e}");
    assert!(
        p.find(&ctx_for(&other), &other.inputs)
            .await
            .unwrap()
            .is_none()
    );

    delete_for_good(&p, &ctx, &arn, &rotated).await;
    assert_eq!(
        secret_arn_for_region(&c, &west_arn, "us-west-2")
            .await
            .unwrap(),
        None,
        "the replica went with it"
    );
}

/// The layout the stack uses: the secret in its region without `replica_regions`, and its replica
/// a resource of the other region (so that it runs in that region's wave).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_its_own_region_with_that_regions_key() {
    let secrets = DatabaseSecretProvider::new(local_clients());
    let replicas = SecretReplicaProvider::new(local_clients());
    let mut sdecl: ResourceDecl = secret(&secret_name("it/db-replica")).into();
    sdecl.inputs.remove("replica_regions");
    let sctx = ctx_for(&sdecl);
    let created = validate_and_create(&secrets, &sdecl).await.unwrap();
    let arn = str_prop(&created.outputs, "arn").to_string();
    let west_arn = arn.replace(":us-east-1:", ":us-west-2:");

    let decl: ResourceDecl = SecretReplica::new(&crate::us_west_2(), "app-db")
        .unwrap()
        .secret_arn(arn.as_str())
        .kms_key_id(KEY_WEST)
        .into();
    let ctx = ctx_for(&decl);
    let made = validate_and_create(&replicas, &decl).await.unwrap();
    assert_eq!(made.id, west_arn);
    assert_eq!(str_prop(&made.outputs, "arn"), west_arn);
    assert_eq!(str_prop(&made.outputs, "primary_region"), "us-east-1");
    reads_back(&replicas, &ctx, &west_arn, &decl.inputs).await;
    // The secret does not manage it: no drift there, and its outputs name it.
    let read = reads_back(&secrets, &sctx, &arn, &sdecl.inputs).await;
    assert_eq!(str_prop(&read.outputs, "arn_us-west-2"), west_arn);
    let c = clients();
    assert_eq!(
        secret_arn_for_region(&c, &arn, "us-west-2").await.unwrap(),
        Some(west_arn.clone())
    );
    assert_eq!(
        read_credentials(&c, &west_arn).await.unwrap(),
        read_credentials(&c, &arn).await.unwrap()
    );
    // Made again (an interrupted create): kept, not duplicated.
    assert_eq!(
        replicas.create(&ctx, &decl.inputs).await.unwrap().id,
        west_arn
    );
    assert_eq!(replication_status(&c, &arn).await.unwrap().len(), 1);
    assert_eq!(
        replicas.find(&ctx, &decl.inputs).await.unwrap().unwrap().id,
        west_arn
    );
    // Another key: replicated again with it.
    let mut rekeyed = decl.inputs.clone();
    rekeyed.insert(
        "kms_key_id".into(),
        Value::str("arn:aws:kms:us-west-2:123456789012:key/secret-west-2"),
    );
    update_reads_back(&replicas, &ctx, &west_arn, &decl.inputs, &rekeyed).await;
    assert_eq!(replication_status(&c, &arn).await.unwrap().len(), 1);

    delete_for_good(&replicas, &ctx, &west_arn, &rekeyed).await;
    assert_eq!(
        secret_arn_for_region(&c, &arn, "us-west-2").await.unwrap(),
        None
    );
    secrets.delete(&sctx, &arn, &sdecl.inputs).await.unwrap();
    // Its primary gone, a replica's delete is done.
    replicas.delete(&ctx, &west_arn, &rekeyed).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_scheduled_for_deletion_is_restored_by_its_next_create() {
    let p = DatabaseSecretProvider::new(local_clients());
    let name = secret_name("it/db-restore");
    let mut decl: ResourceDecl = secret(&name).into();
    decl.inputs.remove("force_delete_without_recovery");
    decl.inputs
        .insert("recovery_window_in_days".into(), Value::Int(7));
    let ctx = ctx_for(&decl);
    let created = validate_and_create(&p, &decl).await.unwrap();
    let arn = str_prop(&created.outputs, "arn").to_string();
    let before = read_credentials(&clients(), &arn).await.unwrap();
    // Scheduled for deletion (its replica removed first): gone as far as Tandem can tell.
    p.delete(&ctx, &arn, &decl.inputs).await.unwrap();
    assert!(p.read(&ctx, &arn, &decl.inputs).await.unwrap().is_none());
    p.delete(&ctx, &arn, &decl.inputs).await.unwrap();
    // Made again: the same secret, restored with its value and replicated again.
    let again = validate_and_create(&p, &decl).await.unwrap();
    assert_eq!(again.id, arn);
    assert!(again.outputs.contains_key("arn_us-west-2"));
    reads_back(&p, &ctx, &arn, &decl.inputs).await;
    assert_eq!(read_credentials(&clients(), &arn).await.unwrap(), before);
    let mut gone = decl.inputs.clone();
    gone.remove("recovery_window_in_days");
    gone.insert("force_delete_without_recovery".into(), Value::Bool(true));
    p.delete(&ctx, &arn, &gone).await.unwrap();
}

fn db_with_secret(id: &str, secret_arn: &str) -> DbInstance {
    DbInstance::new(&us_east_1(), "app-db")
        .unwrap()
        .identifier(id)
        .engine("postgres")
        .instance_class("db.t3.micro")
        .allocated_storage(20)
        .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/source-key")
        .backup_retention_period(1)
        .skip_final_snapshot(true)
        .master_username("tandem")
        .master_user_secret_arn(secret_arn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_db_instance_is_created_and_rotated_with_the_secrets_password() {
    let proxy = RecordingProxy::start(&tandem_testkit::moto().endpoint()).await;
    let through_proxy = clients_at(&proxy.endpoint);
    let secrets = DatabaseSecretProvider::new(through_proxy.clone());
    let dbs = DbInstanceProvider::new(through_proxy.clone());
    let sdecl: ResourceDecl = secret(&secret_name("it/db-pw")).into();
    let sctx = ctx_for(&sdecl);
    let created = validate_and_create(&secrets, &sdecl).await.unwrap();
    let arn = str_prop(&created.outputs, "arn").to_string();
    let password = read_credentials(&clients(), &arn).await.unwrap().password;

    let id = unique("db-pw");
    let decl: ResourceDecl = db_with_secret(&id, &arn).into();
    let ctx = ctx_for(&decl);
    proxy.take();
    let db = validate_and_create(&dbs, &decl).await.unwrap();
    assert_eq!(str_prop(&db.outputs, "master_user_secret_arn"), arn);
    let sent = proxy.take();
    let create = sent
        .split("Action=")
        .find(|r| r.starts_with("CreateDBInstance&"))
        .expect("a CreateDBInstance request");
    assert_eq!(
        sent_param(create, "MasterUserPassword"),
        Some(form_encoded(password.expose()).as_str()),
        "the create carried the secret's password"
    );
    assert!(!create.contains("ManageMasterUserPassword"), "{create}");
    // RDS manages no secret of its own.
    let rds = clients().rds("us-east-1").await;
    let live = rds
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap();
    assert!(live.db_instances()[0].master_user_secret().is_none());
    reads_back(&dbs, &ctx, &id, &decl.inputs).await;

    // A rotation: the secret's generation, then the instance's.
    let mut srotated = sdecl.inputs.clone();
    srotated.insert("password_generation".into(), Value::Int(1));
    secrets
        .update(&sctx, &arn, &sdecl.inputs, &srotated)
        .await
        .unwrap();
    let new_password = read_credentials(&clients(), &arn).await.unwrap().password;
    assert_ne!(new_password, password);
    let mut rotated = decl.inputs.clone();
    rotated.insert("master_password_generation".into(), Value::Int(1));
    proxy.take();
    update_reads_back(&dbs, &ctx, &id, &decl.inputs, &rotated).await;
    let sent = proxy.take();
    let modify = sent
        .split("Action=")
        .find(|r| r.starts_with("ModifyDBInstance&"))
        .expect("a ModifyDBInstance request");
    assert_eq!(
        sent_param(modify, "MasterUserPassword"),
        Some(form_encoded(new_password.expose()).as_str())
    );
    assert!(!modify.contains("ManageMasterUserPassword"), "{modify}");
    // No change of generation, no password sent.
    update_reads_back(&dbs, &ctx, &id, &rotated, &rotated).await;
    assert!(!proxy.take().contains("MasterUserPassword"));

    // A secret of another user name is refused before any instance is made.
    let other = db_with_secret(&unique("db-pw-user"), &arn).master_username("admin");
    let e = validate_and_create(&dbs, &other.into()).await.unwrap_err();
    assert!(e.contains("master_username") && e.contains("tandem"), "{e}");
    assert!(!e.contains(new_password.expose()), "{e}");

    delete_for_good(&dbs, &ctx, &id, &rotated).await;
    secrets.delete(&sctx, &arn, &srotated).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_rds_managed_is_moved_to_the_secret() {
    // An instance made before this change: its password managed by RDS. The first update with
    // `master_user_secret_arn` turns RDS's management off and sets the secret's password.
    let id = unique("db-migrate");
    let rds = clients().rds("us-east-1").await;
    rds.create_db_instance()
        .db_instance_identifier(&id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .backup_retention_period(1)
        .master_username("tandem")
        .manage_master_user_password(true)
        .send()
        .await
        .unwrap();
    let arn = shared_db_secret_arn();
    let decl: ResourceDecl = db_with_secret(&id, arn).into();
    let ctx = ctx_for(&decl);
    let mut old = decl.inputs.clone();
    old.remove("master_user_secret_arn");
    let dbs = DbInstanceProvider::new(clients());
    dbs.update(&ctx, &id, &old, &decl.inputs).await.unwrap();
    let live = rds
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap();
    assert!(live.db_instances()[0].master_user_secret().is_none());
    dbs.delete(&ctx, &id, &decl.inputs).await.unwrap();
}

/// A DB instance without `master_user_secret_arn` is refused at planning, naming the resource and
/// its region.
#[test]
fn an_instance_without_a_secret_is_refused_by_name_and_region() {
    let mut stack = StackBuilder::new();
    let mut decl: ResourceDecl = db_with_secret("tandem-x-app", shared_arn_shape()).into();
    decl.inputs.remove("master_user_secret_arn");
    stack.declare(decl);
    let desired = stack.finish().unwrap();
    let providers = tandem_aws::providers(clients());
    let e = plan(
        &desired,
        &State::new("it", "local", "l".into()),
        &providers,
        &PlanConfig {
            wave_order: vec!["global".into(), "us-east-1".into()],
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("us-east-1/rds:DbInstance/app-db (region us-east-1)")
            && e.contains("`master_user_secret_arn` is required"),
        "{e}"
    );
}

fn shared_arn_shape() -> &'static str {
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-a1b2c3"
}
