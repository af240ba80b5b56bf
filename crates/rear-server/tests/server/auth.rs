//! Authentication on every route, the login form, sessions, CSRF and proxy headers.

use rear_proto::api::ErrorBody;
use rear_server::router::{Access, ROUTES};
use rear_server::store::{Role, TokenScope};
use reqwest::StatusCode;

use crate::common::{hidden_value, report, set_cookie, start, start_with};

#[tokio::test]
async fn every_route_requires_authentication() {
    let s = start().await;
    let ingest = s.token("site", TokenScope::Site).await;
    assert_eq!(
        s.post_report(&ingest, &report("web1", "mkrescue")).await.0,
        StatusCode::CREATED
    );
    s.user("admin", "admin-password", Role::Admin).await;
    let cookie = s.login("admin", "admin-password").await;
    assert!(ROUTES.len() >= 15, "the table lists the whole router");

    for route in ROUTES {
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
        let anon = s
            .client
            .request(method.clone(), s.url(route.example))
            .send()
            .await
            .unwrap();
        let status = anon.status();
        let location = anon
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let what = format!("{} {}", route.method, route.example);
        match route.access {
            Access::Public => {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{what} is public");
                assert_ne!(status, StatusCode::NOT_FOUND, "{what} exists");
            }
            Access::Web => {
                assert_eq!(status, StatusCode::SEE_OTHER, "{what} without login");
                let loc = location.unwrap_or_default();
                assert!(
                    loc.starts_with("/login?next="),
                    "{what} redirects to the login: {loc}"
                );
            }
            Access::Api | Access::Ingest => {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{what} without credentials"
                );
                let body: ErrorBody = anon.json().await.unwrap();
                assert_eq!(body.error, "unauthorized", "{what}");
            }
        }
        if route.access == Access::Public {
            continue;
        }
        // With credentials the route answers from its handler: never the router's bare 404/405
        // and never 401 (a handler's 404 comes with an ErrorBody).
        let req = s.client.request(method, s.url(route.example));
        let req = match route.access {
            Access::Ingest => req
                .bearer_auth(&ingest)
                .header("Content-Type", "application/json")
                .body(report("web1", "mkbackup").to_json()),
            Access::Web if route.method == "POST" => {
                req.header("Cookie", &cookie).form(&[("csrf", "wrong")])
            }
            _ => req.header("Cookie", &cookie),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{what} with credentials");
        assert_ne!(status, StatusCode::SEE_OTHER, "{what} with credentials");
        if status == StatusCode::NOT_FOUND {
            // A handler's 404 names what is missing: JSON for the API, a page for the GUI.
            let text = resp.text().await.unwrap();
            if route.access == Access::Web {
                assert!(text.contains("<h1>Not Found</h1>"), "{what}: {text}");
            } else {
                let body: ErrorBody =
                    serde_json::from_str(&text).expect("handler 404 has an error body");
                assert_eq!(body.error, "not_found", "{what}");
            }
        }
    }
}

#[tokio::test]
async fn login_sessions_csrf_and_logout() {
    let s = start().await;
    s.user("bob", "bob-password", Role::Viewer).await;

    let (status, cookie) = s.try_login("bob", "wrong-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    let (status, _) = s.try_login("nobody", "bob-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A login POST without the matching CSRF cookie is refused even with the right password.
    let resp = s
        .client
        .post(s.url("/login"))
        .form(&[
            ("csrf", "guess"),
            ("username", "bob"),
            ("password", "bob-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&resp, "rear_session").is_none());

    // Cookie flags.
    let form = s.client.get(s.url("/login")).send().await.unwrap();
    let login_csrf = set_cookie(&form, "rear_login_csrf").unwrap();
    let resp = s
        .client
        .post(s.url("/login"))
        .header("Cookie", format!("rear_login_csrf={login_csrf}"))
        .form(&[
            ("csrf", login_csrf.as_str()),
            ("username", "bob"),
            ("password", "bob-password"),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/", "no open redirect");
    let raw = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("rear_session="))
        .unwrap();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Strict"),
        "{raw}"
    );
    assert!(!raw.contains("Secure"), "plain HTTP by default: {raw}");
    let cookie = format!(
        "rear_session={}",
        set_cookie(&resp, "rear_session").unwrap()
    );

    let (status, html) = s.page(&cookie, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("bob (viewer)"));
    let csrf = hidden_value(&html, "csrf");

    // Logout needs the session's CSRF token.
    let resp = s
        .client
        .post(s.url("/logout"))
        .header("Cookie", &cookie)
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        s.page(&cookie, "/").await.0,
        StatusCode::OK,
        "still logged in"
    );
    let resp = s
        .client
        .post(s.url("/logout"))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        s.page(&cookie, "/").await.0,
        StatusCode::SEE_OTHER,
        "session ended"
    );
    let r = s
        .client
        .get(s.url("/api/v1/hosts"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let s = start_with(|c| c.http.secure_cookies = true).await;
    let form = s.client.get(s.url("/login")).send().await.unwrap();
    let raw = form.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(raw.contains("; Secure"), "{raw}");
}

#[tokio::test]
async fn proxy_header_only_from_trusted_addresses() {
    let trusted = start_with(|c| {
        c.auth.proxy_user_header = "X-Remote-User".into();
        c.auth.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    trusted.user("carol", "carol-password", Role::Admin).await;
    let r = trusted
        .client
        .get(trusted.url("/"))
        .header("X-Remote-User", "carol")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("carol (admin)"));
    let r = trusted
        .client
        .get(trusted.url("/api/v1/hosts"))
        .header("X-Remote-User", "dave")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "unknown proxy users read as viewers"
    );

    let untrusted = start_with(|c| {
        c.auth.proxy_user_header = "X-Remote-User".into();
        c.auth.trusted_proxies = vec!["192.0.2.1".parse().unwrap()];
    })
    .await;
    let r = untrusted
        .client
        .get(untrusted.url("/"))
        .header("X-Remote-User", "carol")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "header from an untrusted peer is ignored"
    );
    let r = untrusted
        .client
        .get(untrusted.url("/api/v1/hosts"))
        .header("X-Remote-User", "carol")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_page_is_for_admins_and_creates_working_tokens() {
    let s = start().await;
    s.user("root", "root-password", Role::Admin).await;
    s.user("view", "view-password", Role::Viewer).await;
    let admin = s.login("root", "root-password").await;
    let viewer = s.login("view", "view-password").await;

    let (status, html) = s.page(&viewer, "/admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        !s.page(&viewer, "/").await.1.contains("href=\"/admin\""),
        "no admin link for viewers"
    );
    let (status, html) = s.page(&admin, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/admin\""));
    let csrf = hidden_value(&html, "csrf");
    let viewer_csrf = hidden_value(&s.page(&viewer, "/").await.1, "csrf");

    let post = |cookie: &str, csrf: &str| {
        s.client
            .post(s.url("/admin/tokens"))
            .header("Cookie", cookie)
            .form(&[
                ("csrf", csrf),
                ("name", "web9"),
                ("scope", "host"),
                ("host", "web9"),
            ])
            .send()
    };
    assert_eq!(
        post(&admin, "wrong").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&viewer, &viewer_csrf).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let resp = post(&admin, &csrf).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let start =
        html.find("<pre id=\"new-token\">").expect("token shown") + "<pre id=\"new-token\">".len();
    let token = &html[start..start + 64];
    assert!(
        html.contains("<td>web9</td><td>ingest for host web9</td>"),
        "{html}"
    );
    assert_eq!(
        s.post_report(token, &report("web9", "mkrescue")).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        s.post_report(token, &report("web8", "mkrescue")).await.0,
        StatusCode::FORBIDDEN
    );
    let again = post(&admin, &csrf).await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "duplicate name");
}
