//! Login against a real OpenLDAP slapd (Debian's `slapd`), started privately for each test.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rear_server::config::LdapConfig;
use rear_server::store::Role;
use reqwest::StatusCode;

use crate::common::start_with;

const SUFFIX: &str = "dc=rear,dc=test";

struct Slapd {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Slapd {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        let conf = d.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/nis.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
                 modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {d}/slapd.pid\n\
                 database mdb\nmaxsize 10485760\nsuffix \"{SUFFIX}\"\n\
                 rootdn \"cn=admin,{SUFFIX}\"\nrootpw admin-secret\ndirectory {d}/db\n",
                d = d.display()
            ),
        )
        .unwrap();
        let ldif = format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: rear\no: rear test\n\n\
             dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
             dn: uid=alice,ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice\nsn: A\n\
             userPassword: alice-ldap-pw\n\n\
             dn: uid=bob,ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob\nsn: B\n\
             userPassword: bob-ldap-pw\n\n\
             dn: cn=rear-admins,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: rear-admins\n\
             member: uid=alice,ou=people,{SUFFIX}\n"
        );
        std::fs::write(d.join("data.ldif"), ldif).unwrap();
        let out = Command::new("slapadd")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(d.join("data.ldif"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ldap://127.0.0.1:{port}");
        // -d keeps slapd in the foreground, so the test owns the process.
        let mut child = Command::new("slapd")
            .arg("-f")
            .arg(&conf)
            .args(["-h", &format!("{url}/"), "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self {
                    child,
                    url,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("slapd did not start");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
#[ignore = "needs slapd (scripts/test-all.sh runs it)"]
async fn svc_ldap_login_roles_and_failures() {
    assert!(
        std::path::Path::new("/usr/sbin/slapd").exists(),
        "apt-get install slapd"
    );
    let mut slapd = Slapd::start();
    let ldap = LdapConfig {
        url: slapd.url.clone(),
        bind_dn: format!("uid={{user}},ou=people,{SUFFIX}"),
        admin_users: Vec::new(),
        admin_group: format!("cn=rear-admins,ou=groups,{SUFFIX}"),
    };
    let s = start_with(move |c| c.auth.ldap = Some(ldap)).await;
    s.user("local", "local-password", Role::Viewer).await;

    let alice = s.login("alice", "alice-ldap-pw").await;
    assert!(
        s.page(&alice, "/").await.1.contains("alice (admin)"),
        "group member is admin"
    );
    assert_eq!(s.page(&alice, "/admin").await.0, StatusCode::OK);
    let bob = s.login("bob", "bob-ldap-pw").await;
    assert!(s.page(&bob, "/").await.1.contains("bob (viewer)"));
    assert_eq!(s.page(&bob, "/admin").await.0, StatusCode::FORBIDDEN);

    assert_eq!(
        s.try_login("bob", "wrong").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.try_login("bob", "").await.0,
        StatusCode::UNAUTHORIZED,
        "no anonymous bind"
    );
    assert_eq!(s.try_login("carol", "x").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.try_login("bob,ou=people,dc=rear,dc=test", "bob-ldap-pw")
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "the name is DN-escaped"
    );
    // Directory users get no usable local password.
    let row = s.state.store().user("bob").await.unwrap().unwrap();
    assert_eq!(row.password_hash, rear_server::store::EXTERNAL_PASSWORD);
    // Local users still log in with their local password.
    s.login("local", "local-password").await;

    slapd.stop();
    let (status, _) = s.try_login("alice", "alice-ldap-pw").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "directory down");
    assert_eq!(
        s.page(&alice, "/").await.0,
        StatusCode::OK,
        "existing sessions keep working"
    );
}
