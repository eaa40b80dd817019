//! Qualtrics' wire format: the envelope of an answer (`result` and `meta`, or the flat form of
//! the directory endpoints), the host the client addressed, and offset paging with absolute
//! `nextPage` URLs.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::brand::HOME_DATACENTER;
use crate::USERS_PAGE_SIZE;

/// Where the client thinks it is talking: decides `nextPage` hosts and proxy notices.
pub(crate) struct Addressed {
    /// `https://iad1.qualtrics.com/API/v3` or `http://127.0.0.1:8080/sandbox/API/v3`.
    pub(super) base: String,
    /// Set when the client called another datacenter's host.
    pub(super) proxied: bool,
}

/// Where the client addressed the call, from its `X-Forwarded-Host` or `Host` header.
pub(crate) fn addressed(headers: &HeaderMap) -> Addressed {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get("host"))
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_ascii_lowercase();
    match host.strip_suffix(".qualtrics.com") {
        Some(stem) => {
            let dc = stem.rsplit('.').next().unwrap_or(stem);
            if dc == HOME_DATACENTER {
                Addressed {
                    base: format!("https://{host}/API/v3"),
                    proxied: false,
                }
            } else {
                Addressed {
                    base: format!("https://{HOME_DATACENTER}.qualtrics.com/API/v3"),
                    proxied: true,
                }
            }
        }
        None => Addressed {
            base: format!("http://{host}/sandbox/API/v3"),
            proxied: false,
        },
    }
}

/// An answer before it becomes HTTP.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
}

impl Answer {
    /// An error envelope: Qualtrics' `meta.error` with the message and code.
    pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Answer {
        Answer {
            status,
            body: json!({"meta": {"error": {"errorMessage": message.into(), "errorCode": code}}}),
        }
    }
    /// A success with `result`.
    pub(super) fn ok(result: Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body: json!({"result": result, "meta": {}}),
        }
    }
    /// A success with `meta` only (as Qualtrics answers a change).
    pub(super) fn ok_meta_only() -> Answer {
        Answer {
            status: StatusCode::OK,
            body: json!({"meta": {}}),
        }
    }
    /// Qualtrics' documented form for the directory endpoints: fields beside `meta`.
    pub(super) fn flat(status: StatusCode, mut fields: Value) -> Answer {
        fields["meta"] = json!({});
        Answer {
            status,
            body: fields,
        }
    }
    /// The same answer with its fields moved into `result`, like the other v3 endpoints.
    pub(super) fn wrapped(self) -> Answer {
        let Value::Object(mut map) = self.body else {
            return self;
        };
        if map.contains_key("result") || map.get("meta").is_some_and(|m| m.get("error").is_some()) {
            return Answer {
                status: self.status,
                body: Value::Object(map),
            };
        }
        let meta = map.remove("meta").unwrap_or(json!({}));
        Answer {
            status: self.status,
            body: json!({"result": Value::Object(map), "meta": meta}),
        }
    }
}

/// The 404 Qualtrics gives for an unknown id.
pub(super) fn not_found(id: &str) -> Answer {
    Answer::error(StatusCode::NOT_FOUND, "ESSG_2", format!("{id} not found"))
}

/// The `offset` query parameter (0 when absent), or the 400 Qualtrics gives for a bad one.
fn offset_param(query: &[(String, String)]) -> Result<usize, Answer> {
    match query.iter().find(|(k, _)| k == "offset") {
        None => Ok(0),
        Some((_, v)) => v.parse::<usize>().map_err(|_| {
            Answer::error(
                StatusCode::BAD_REQUEST,
                "SBX_BAD_PARAM",
                format!("Invalid offset: {v}"),
            )
        }),
    }
}

/// One page of an offset-paged listing (users, groups, group members): up to 100 elements
/// from `offset`, and `nextPage` as an absolute URL on the host the client addressed (with the
/// proxy parameters when it was proxied), `null` on the last page.
pub(super) fn offset_page<T>(
    items: &[T],
    query: &[(String, String)],
    at: &Addressed,
    path: &str,
    element: impl Fn(&T) -> Value,
) -> Answer {
    let offset = match offset_param(query) {
        Ok(o) => o,
        Err(answer) => return answer,
    };
    let elements: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(USERS_PAGE_SIZE)
        .map(element)
        .collect();
    let next = offset + USERS_PAGE_SIZE;
    let next_page = if next < items.len() {
        let proxy = if at.proxied {
            "&proxyDepth=1&proxyInfo=%7B%22proxyDepth%22%3A1%7D"
        } else {
            ""
        };
        Value::String(format!("{}/{path}?offset={next}{proxy}", at.base))
    } else {
        Value::Null
    };
    Answer::ok(json!({"elements": elements, "nextPage": next_page}))
}
