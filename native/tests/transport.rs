//! The native HTTP client over real loopback sockets, against a scripted server: what the
//! driver relies on from it (answers of any status handed back as they are, redirects never
//! followed, a slow answer ending as "timed out" and retried, several requests in flight on
//! a one-thread runtime, an abandoned request holding nothing up) and the words of each way
//! a request can fail, which the user reads as "no answer (…)".

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qualtrics_roster::api::connection::{Auth, Connection};
use qualtrics_roster::api::http::{HttpRequest, Method};
use qualtrics_roster::exec::TransportFailure;
use roster_native::client::Transport;

/// One request as the scripted server read it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// What the scripted server does with a request.
enum Reply {
    /// Writes these bytes (a whole answer, or a part of one) and closes the connection.
    Raw(String),
    /// Waits, then answers 200 with this body.
    After(Duration, String),
    /// Closes the connection without a byte.
    Close,
}

/// A server on a free loopback port: each connection on a thread of its own, every request
/// recorded, each answered by `script` (given the request and how many came before it).
struct Scripted {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, script) = (log.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &log, &*script));
            }
        });
        Scripted { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, script: &dyn Fn(&Seen, usize) -> Reply) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    // Requests on this connection, one after another (kept alive).
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let request = Seen {
            method,
            path,
            headers,
            body,
        };
        let before = {
            let mut log = log.lock().unwrap();
            log.push(request.clone());
            log.len() - 1
        };
        match script(&request, before) {
            Reply::Raw(bytes) => {
                let _ = writer.write_all(bytes.as_bytes());
                return;
            }
            Reply::After(wait, body) => {
                std::thread::sleep(wait);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                if writer.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Close => return,
        }
    }
}

fn get(url: String) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url,
        headers: vec![("x-api-token".into(), "t0k3n".into())],
        body: None,
    }
}

#[tokio::test]
async fn answers_of_every_status_come_back_as_they_are_with_the_request_sent_whole() {
    let server = Scripted::start(|r, _| match r.path.as_str() {
        "/busy" => Reply::Raw(
            "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\ncontent-length: 2\r\n\r\n{}"
                .into(),
        ),
        "/broken" => {
            Reply::Raw("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n".into())
        }
        _ => Reply::After(Duration::ZERO, r#"{"ok":true}"#.into()),
    });
    let t = Transport::new();

    let busy = t.send(&get(format!("{}/busy", server.url))).await.unwrap();
    assert_eq!(busy.status, 429);
    assert_eq!(busy.header("retry-after"), Some("3"));
    let broken = t
        .send(&get(format!("{}/broken", server.url)))
        .await
        .unwrap();
    assert_eq!(broken.status, 503);

    let post = HttpRequest {
        method: Method::Post,
        url: format!("{}/users", server.url),
        headers: vec![
            ("x-api-token".into(), "t0k3n".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: Some(br#"{"username":"a"}"#.to_vec()),
    };
    let created = t.send(&post).await.unwrap();
    assert_eq!(
        (created.status, created.body.as_slice()),
        (200, &br#"{"ok":true}"#[..])
    );
    let delete = HttpRequest {
        method: Method::Delete,
        url: format!("{}/users/UR_1", server.url),
        ..get(String::new())
    };
    assert_eq!(t.send(&delete).await.unwrap().status, 200);

    let seen = server.seen();
    let sent = &seen[2];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/users")
    );
    assert_eq!(sent.body, br#"{"username":"a"}"#);
    let header = |name: &str| {
        sent.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-api-token"), Some("t0k3n"));
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!((seen[3].method.as_str(), seen[3].body.len()), ("DELETE", 0));
}

#[tokio::test]
async fn a_redirect_is_answered_as_it_is_and_never_followed() {
    let server = Scripted::start(|r, _| match r.path.as_str() {
        "/start" => Reply::Raw(
            "HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n".into(),
        ),
        _ => Reply::After(Duration::ZERO, "{}".into()),
    });
    let answer = Transport::new()
        .send(&get(format!("{}/start", server.url)))
        .await
        .unwrap();
    assert_eq!(answer.status, 302);
    assert_eq!(answer.header("location"), Some("/elsewhere"));
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/start"], "the credential went nowhere else");
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_no_answer_and_is_retried() {
    // The first attempt is answered after 3 s, the second at once.
    let server = Scripted::start(|_, before| {
        let wait = if before == 0 { 3000 } else { 0 };
        Reply::After(Duration::from_millis(wait), "{}".into())
    });
    let t = Transport::with_timeout(Duration::from_millis(400));
    let started = Instant::now();
    let mut attempts = Vec::new();
    let answer = t
        .send_retrying(&get(format!("{}/whoami", server.url)), |_, a| {
            attempts.push(a.as_ref().map(|r| r.status).map_err(|e| e.why.clone()));
        })
        .await;
    assert_eq!(answer.unwrap().status, 200);
    assert_eq!(attempts, [Err("timed out".to_string()), Ok(200)]);
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn a_run_whose_request_times_out_retries_it_and_finishes() {
    // The users listing: the first page request is answered too late, the retry at once.
    let server = Scripted::start(|_, before| {
        let wait = if before == 0 { 3000 } else { 0 };
        Reply::After(
            Duration::from_millis(wait),
            r#"{"result":{"elements":[],"nextPage":null},"meta":{"httpStatus":"200 - OK"}}"#.into(),
        )
    });
    let conn = Connection::direct(
        &format!("{}/API/v3", server.url),
        Auth::ApiToken("t0k3n".into()),
    )
    .unwrap();
    let users = Transport::with_timeout(Duration::from_millis(400))
        .list_users(&conn)
        .await
        .expect("the timed-out request was tried again");
    assert!(users.is_empty());
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].path, seen[1].path);
}

#[tokio::test]
async fn requests_are_in_flight_side_by_side_on_a_one_thread_runtime() {
    // Nothing is answered until four requests are open at once (or 5 s have passed: then 500),
    // which happens only if sending one does not block the runtime.
    let open = Arc::new((Mutex::new(0), std::sync::Condvar::new()));
    let gate = open.clone();
    let server = Scripted::start(move |_, _| {
        let (count, arrived) = &*gate;
        let mut n = count.lock().unwrap();
        *n += 1;
        arrived.notify_all();
        let (n, waited) = arrived
            .wait_timeout_while(n, Duration::from_secs(5), |n| *n < 4)
            .unwrap();
        drop(n);
        if waited.timed_out() {
            Reply::Raw("HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n".into())
        } else {
            Reply::After(Duration::ZERO, "{}".into())
        }
    });
    let t = Transport::new();
    let sends = (0..4).map(|i| {
        let (t, url) = (t.clone(), format!("{}/{i}", server.url));
        async move { t.send(&get(url)).await.unwrap().status }
    });
    let statuses = futures_join_all(sends).await;
    assert_eq!(statuses, [200, 200, 200, 200]);
}

/// Awaits every future side by side (the driver's way), in order of the list.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    // A plain poll loop over the pinned futures: the runtime's one thread does all the polling.
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(f) = slot {
                if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                    *out = Some(v);
                    *slot = None;
                }
            }
        }
        if pending.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    done.into_iter().map(Option::unwrap).collect()
}

#[test]
fn an_abandoned_request_holds_up_neither_the_next_nor_the_end_of_the_runtime() {
    let server = Scripted::start(|r, _| match r.path.as_str() {
        "/hang" => Reply::After(Duration::from_secs(30), "{}".into()),
        _ => Reply::After(Duration::ZERO, "{}".into()),
    });
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let t = Transport::new();
        let hang = get(format!("{}/hang", server.url));
        let abandoned = tokio::time::timeout(Duration::from_millis(200), t.send(&hang)).await;
        assert!(
            abandoned.is_err(),
            "the hanging request was dropped unanswered"
        );
        let ok = t.send(&get(format!("{}/ok", server.url))).await.unwrap();
        assert_eq!(ok.status, 200);
    });
    drop(runtime);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "nothing waited for the abandoned request: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn each_way_of_getting_no_answer_has_the_words_the_user_reads() {
    let server = Scripted::start(|r, _| {
        match r.path.as_str() {
        "/close" => Reply::Close,
        _ => Reply::Raw(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"result\":".into(),
        ),
    }
    });
    let t = Transport::new();
    let failure = |url: String| {
        let t = t.clone();
        async move { t.send(&get(url)).await.map(|r| r.status) }
    };
    assert_eq!(
        failure(format!("{}/close", server.url)).await,
        Err(TransportFailure::no_answer(
            "the connection broke before an answer"
        ))
    );
    assert_eq!(
        failure(format!("{}/half", server.url)).await,
        Err(TransportFailure::no_answer(
            "the connection broke while reading the answer"
        ))
    );
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    assert_eq!(
        failure(format!("http://127.0.0.1:{port}/")).await,
        Err(TransportFailure::no_answer("could not connect"))
    );
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_said_as_such_and_not_sent_again() {
    // 10 MB and one byte of JSON-ish body, whole and well-formed: nothing broke.
    let size = roster_native::client::MAX_ANSWER_BYTES as usize + 1;
    let server = Scripted::start(move |_, _| {
        Reply::Raw(format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n{}",
            " ".repeat(size)
        ))
    });
    let t = Transport::new();
    let mut attempts = 0;
    let answer = t
        .send_retrying(&get(format!("{}/API/v3/users", server.url)), |_, _| {
            attempts += 1;
        })
        .await;
    let failure = answer.expect_err("not read");
    assert!(!failure.transient, "{failure:?}");
    assert!(
        failure.why.contains("over the 10 MB this client reads"),
        "says what it is, not that the connection broke: {}",
        failure.why
    );
    assert_eq!((attempts, server.seen().len()), (1, 1), "sent once");
}

#[tokio::test]
async fn a_request_the_client_cannot_build_is_not_sent_nor_retried() {
    let server = Scripted::start(|_, _| Reply::After(Duration::ZERO, "{}".into()));
    let mut request = get(format!("{}/API/v3/whoami", server.url));
    request
        .headers
        .push(("x-broken".into(), "two\r\nlines".into()));
    let mut attempts = 0;
    let failure = Transport::new()
        .send_retrying(&request, |_, _| attempts += 1)
        .await
        .expect_err("not sent");
    assert!(!failure.transient, "{failure:?}");
    assert!(failure.why.contains("nothing was sent"), "{}", failure.why);
    assert!(!failure.why.contains("lines"), "never a header's value");
    assert_eq!((attempts, server.seen().len()), (1, 0));
}
