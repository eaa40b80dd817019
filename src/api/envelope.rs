//! One parser for every shape of Qualtrics v3 answer.
//!
//! Shapes accepted:
//! - the v3 envelope `{"result": …, "meta": {"httpStatus", "requestId", "notice"?}}`;
//! - its error form `{"meta": {"error": {"errorCode", "errorMessage"}}}`;
//! - the legacy (2018) error form `{"meta": {"status": "Error", "errorMessage",
//!   "internalErrorCode" | "qualtricsErrorCode"}, "result": null}`;
//! - the flat form of the EX/CX directory endpoints, which has no `result`: the object without
//!   its `meta` is the result (`{"jobId": …, "meta": …}`). Which form the live API uses there is
//!   unverified, so both are accepted everywhere.

use serde_json::{Map, Value};

use crate::api::error::ApiError;
use crate::api::http::HttpResponse;

/// A successful answer: its result (if any) and what `meta` said besides.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `result`, or the flat object without `meta`; `None` for meta-only answers (PUT, DELETE).
    pub result: Option<Value>,
    /// `meta.notice`, parsed.
    pub notice: Option<Notice>,
    /// `meta.requestId`, for support tickets.
    pub request_id: Option<String>,
}

impl Envelope {
    /// The result, or an error naming what the call expected.
    pub fn require_result(&self, what: &str) -> Result<&Value, ApiError> {
        self.result
            .as_ref()
            .ok_or_else(|| ApiError::UnexpectedShape {
                detail: format!("the answer has no result (expected {what})"),
            })
    }
}

/// `meta.notice`, for example "Request proxied. For faster response times, use this host
/// instead: az1.qualtrics.com".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The notice as Qualtrics wrote it.
    pub text: String,
    /// The host Qualtrics named, when the notice names one.
    pub suggested_host: Option<String>,
}

impl Notice {
    /// Parses a notice and picks out a `*.qualtrics.com` host it names.
    pub fn parse(text: &str) -> Notice {
        let suggested_host = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .map(|w| w.trim_end_matches(['.', ')']))
            .map(|w| {
                w.trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
            })
            .find(|w| w.ends_with(".qualtrics.com") && w.len() > ".qualtrics.com".len())
            .map(str::to_ascii_lowercase);
        Notice {
            text: text.to_string(),
            suggested_host,
        }
    }

    /// The datacenter id in the suggested host (`az1` in `az1.qualtrics.com`, `co1` in
    /// `brand.co1.qualtrics.com`).
    #[must_use]
    pub fn suggested_datacenter(&self) -> Option<String> {
        let host = self.suggested_host.as_deref()?;
        let labels: Vec<&str> = host.trim_end_matches(".qualtrics.com").split('.').collect();
        labels.last().map(|s| s.to_string())
    }

    /// What to tell the user.
    #[must_use]
    pub fn message(&self) -> String {
        match (&self.suggested_host, self.suggested_datacenter()) {
            (Some(host), Some(dc)) => format!(
                "Qualtrics proxied this request to your brand's datacenter ({host}). It works, but connect with datacenter \"{dc}\" for faster responses."
            ),
            _ => format!("Qualtrics says: {}", self.text),
        }
    }
}

/// Parses an answer: `Ok` with the result for a success, the classified error otherwise.
pub fn parse(response: &HttpResponse) -> Result<Envelope, ApiError> {
    let status = response.status;
    let ok_status = (200..300).contains(&status);
    let body = trim_ascii(&response.body);

    if body.is_empty() {
        return if ok_status {
            Ok(Envelope {
                result: None,
                notice: None,
                request_id: None,
            })
        } else {
            Err(classify(
                status,
                response,
                None,
                None,
                "(empty answer)".into(),
            ))
        };
    }

    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) | Err(_) => {
            if ok_status {
                return Err(ApiError::NotJson {
                    status,
                    kind: describe_non_json(body),
                });
            }
            let kind = describe_non_json(body);
            return Err(classify(
                status,
                response,
                None,
                None,
                format!("(the answer was {kind}, not Qualtrics JSON)"),
            ));
        }
    };

    let meta = object.get("meta").and_then(Value::as_object);
    let notice = meta
        .and_then(|m| m.get("notice"))
        .and_then(Value::as_str)
        .map(Notice::parse);
    let request_id = meta
        .and_then(|m| m.get("requestId"))
        .and_then(Value::as_str)
        .map(str::to_string);

    if let Some(err) = meta.and_then(error_in_meta) {
        let effective = if ok_status {
            meta.and_then(http_status_in_meta).unwrap_or(400)
        } else {
            status
        };
        let message = err.message.unwrap_or_else(|| "no message".into());
        return Err(classify(effective, response, err.code, notice, message));
    }
    if !ok_status {
        return Err(classify(
            status,
            response,
            None,
            notice,
            "no message in the answer".into(),
        ));
    }

    let result = if object.contains_key("result") {
        match object.get("result") {
            Some(Value::Null) | None => None,
            Some(v) => Some(v.clone()),
        }
    } else {
        let flat: Map<String, Value> = object.into_iter().filter(|(k, _)| k != "meta").collect();
        (!flat.is_empty()).then_some(Value::Object(flat))
    };

    Ok(Envelope {
        result,
        notice,
        request_id,
    })
}

struct MetaError {
    code: Option<String>,
    message: Option<String>,
}

fn error_in_meta(meta: &Map<String, Value>) -> Option<MetaError> {
    if let Some(err) = meta.get("error").and_then(Value::as_object) {
        return Some(MetaError {
            code: first_str(
                err,
                &["errorCode", "internalErrorCode", "qualtricsErrorCode"],
            ),
            message: first_str(err, &["errorMessage", "message"]),
        });
    }
    let legacy = meta
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("error"));
    if legacy {
        return Some(MetaError {
            code: first_str(
                meta,
                &["internalErrorCode", "qualtricsErrorCode", "errorCode"],
            ),
            message: first_str(meta, &["errorMessage"]),
        });
    }
    None
}

fn http_status_in_meta(meta: &Map<String, Value>) -> Option<u16> {
    meta.get("httpStatus")
        .and_then(Value::as_str)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
}

fn first_str(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

fn classify(
    status: u16,
    response: &HttpResponse,
    code: Option<String>,
    _notice: Option<Notice>,
    message: String,
) -> ApiError {
    if let Some(c) = code.as_deref().filter(|c| c.starts_with("RELAY_")) {
        return ApiError::Relay {
            status,
            code: c.to_string(),
            message,
        };
    }
    match status {
        400 if code.as_deref() == Some("ATP_2") => ApiError::MissingCredentials { code },
        401 => ApiError::Unauthorized {
            detail: Some(message),
        },
        403 => ApiError::Forbidden { code },
        404 => ApiError::NotFound { message },
        429 => ApiError::RateLimited {
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        },
        500..=599 => ApiError::Server { status, message },
        _ => ApiError::Rejected {
            status,
            code,
            message,
        },
    }
}

fn describe_non_json(body: &[u8]) -> String {
    let lower: Vec<u8> = body.iter().take(64).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"<!doctype html")
        || lower.starts_with(b"<html")
        || lower.starts_with(b"<")
    {
        "an HTML page".into()
    } else if std::str::from_utf8(body).is_ok() {
        "plain text".into()
    } else {
        "binary data".into()
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status, body)
    }

    #[test]
    fn v3_success_with_notice() {
        let env = parse(&resp(
            200,
            r#"{"result":{"userId":"UR_1"},"meta":{"httpStatus":"200 - OK","requestId":"r1",
               "notice":"Request proxied. For faster response times, use this host instead: az1.qualtrics.com"}}"#,
        ))
        .unwrap();
        assert_eq!(env.result.unwrap()["userId"], "UR_1");
        assert_eq!(env.request_id.as_deref(), Some("r1"));
        let notice = env.notice.unwrap();
        assert_eq!(notice.suggested_host.as_deref(), Some("az1.qualtrics.com"));
        assert_eq!(notice.suggested_datacenter().as_deref(), Some("az1"));
        assert!(notice.message().contains("datacenter \"az1\""));
    }

    #[test]
    fn meta_only_write_answer_has_no_result() {
        let env = parse(&resp(
            200,
            r#"{"meta":{"httpStatus":"200 - OK","requestId":"x"}}"#,
        ))
        .unwrap();
        assert_eq!(env.result, None);
        assert!(env.require_result("a user").is_err());
    }

    #[test]
    fn error_envelope_codes_are_classified() {
        let e = parse(&resp(
            401,
            r#"{"meta":{"httpStatus":"401 - Unauthorized","error":{"errorMessage":"Unrecognized X-API-TOKEN","errorCode":"AUTH"}}}"#,
        ))
        .unwrap_err();
        assert!(matches!(e, ApiError::Unauthorized { .. }));
        assert!(e.to_string().contains("did not recognise the API token"));

        let e = parse(&resp(
            403,
            r#"{"meta":{"httpStatus":"403 - Forbidden","error":{"errorMessage":"The operation is forbidden.","errorCode":"QMST_2.1"}}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            ApiError::Forbidden {
                code: Some("QMST_2.1".into())
            }
        );
        assert!(e.to_string().contains("not a Brand Administrator"));

        let e = parse(&resp(
            400,
            r#"{"meta":{"httpStatus":"400 - Bad Request","error":{"errorMessage":"Expected authorization in headers, but none provided.","errorCode":"ATP_2"}}}"#,
        ))
        .unwrap_err();
        assert!(matches!(e, ApiError::MissingCredentials { .. }));

        let e = parse(&resp(
            400,
            r#"{"meta":{"httpStatus":"400 - Bad Request","error":{"errorMessage":"Invalid field: shoeSize","errorCode":"RCE_1"}}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Qualtrics refused the request (HTTP 400, RCE_1): Invalid field: shoeSize"
        );
    }

    #[test]
    fn legacy_error_form_with_internal_code() {
        let e = parse(&resp(
            404,
            r#"{"meta":{"status":"Error","errorMessage":"You do not have permission to access this resource.","internalErrorCode":"GS_5","errorId":"abc"},"result":null}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            ApiError::NotFound {
                message: "You do not have permission to access this resource.".into()
            }
        );
        // The same legacy error inside an HTTP 200 takes its status from meta.httpStatus or 400.
        let e = parse(&resp(
            200,
            r#"{"meta":{"status":"Error","errorMessage":"nope","qualtricsErrorCode":"Q_1"},"result":null}"#,
        ))
        .unwrap_err();
        assert!(
            matches!(e, ApiError::Rejected { status: 400, ref code, .. } if code.as_deref() == Some("Q_1"))
        );
    }

    #[test]
    fn flat_ex_form_is_its_own_result() {
        let env = parse(&resp(
            201,
            r#"{"jobId":"J1","meta":{"httpStatus":"201 - Created","requestId":"q"}}"#,
        ))
        .unwrap();
        assert_eq!(env.result.unwrap(), serde_json::json!({"jobId":"J1"}));
        let wrapped = parse(&resp(201, r#"{"result":{"jobId":"J1"},"meta":{}}"#)).unwrap();
        assert_eq!(wrapped.result.unwrap()["jobId"], "J1");
    }

    #[test]
    fn html_and_empty_answers_are_named() {
        let e = parse(&resp(200, "<!DOCTYPE html><html><body>Login</body></html>")).unwrap_err();
        assert_eq!(
            e,
            ApiError::NotJson {
                status: 200,
                kind: "an HTML page".into()
            }
        );
        let e = parse(&resp(502, "<html>Bad gateway</html>")).unwrap_err();
        assert!(matches!(e, ApiError::Server { status: 502, .. }));
        assert!(e.to_string().contains("HTML page"));
        let e = parse(&resp(500, "")).unwrap_err();
        assert!(e.is_transient());
        assert!(parse(&resp(200, "[1,2]")).is_err());
    }

    #[test]
    fn rate_limit_reads_retry_after() {
        let mut r = resp(
            429,
            r#"{"meta":{"httpStatus":"429 - Too Many Requests","error":{"errorMessage":"Too many requests","errorCode":"RL_1"}}}"#,
        );
        r.headers.push(("Retry-After".into(), "7".into()));
        assert_eq!(
            parse(&r).unwrap_err(),
            ApiError::RateLimited {
                retry_after_secs: Some(7)
            }
        );
    }

    #[test]
    fn a_timeout_rate_limit_or_server_error_is_transient_and_a_refusal_of_the_request_is_not() {
        let answer = |status: u16| {
            parse(&resp(
                status,
                &format!(r#"{{"meta":{{"httpStatus":"{status}","error":{{"errorMessage":"m","errorCode":"E"}}}}}}"#),
            ))
            .unwrap_err()
        };
        for status in [408, 429, 500, 502, 503] {
            assert!(answer(status).is_transient(), "{status}");
        }
        for status in [400, 403, 404, 409, 422] {
            assert!(!answer(status).is_transient(), "{status}");
        }
    }

    #[test]
    fn relay_errors_keep_their_message() {
        let e = parse(&resp(
            502,
            r#"{"meta":{"httpStatus":"502 - Bad Gateway","error":{"errorCode":"RELAY_UNREACHABLE","errorMessage":"The relay could not reach xx9.qualtrics.com."}}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "The relay could not reach xx9.qualtrics.com."
        );
        assert!(e.is_transient());
    }

    #[test]
    fn notice_without_host_is_passed_through() {
        let n = Notice::parse("Something changed.");
        assert_eq!(n.suggested_host, None);
        assert_eq!(n.message(), "Qualtrics says: Something changed.");
        let vanity = Notice::parse("use this host instead: https://acme.co1.qualtrics.com/");
        assert_eq!(vanity.suggested_datacenter().as_deref(), Some("co1"));
    }
}
