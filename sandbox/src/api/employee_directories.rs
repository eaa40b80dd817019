//! `/employee-directories/cx/...`: searching the participants, and the import jobs (submit,
//! poll, result) that create participants and set their attributes.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::brand::Brand;
use crate::directory;

use super::wire::Answer;

/// `/employee-directories/cx/...`.
pub(super) fn directory_call(
    brand: &mut Brand,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: &[u8],
) -> Answer {
    let param = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
    match (method, rest) {
        (&Method::POST | &Method::GET, ["participants"]) => {
            let body_json: Value = if method == Method::POST && !body.is_empty() {
                match serde_json::from_slice(body) {
                    Ok(v) => v,
                    Err(_) => {
                        return Answer::error(
                            StatusCode::BAD_REQUEST,
                            "SBX_BAD_BODY",
                            "The request body must be JSON.",
                        )
                    }
                }
            } else {
                json!({})
            };
            let field = |k: &str| {
                body_json
                    .get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| param(k))
            };
            let skip = match field("skipToken") {
                None => 0,
                Some(t) => match directory::parse_skip_token(&t) {
                    Some(n) => n,
                    None => {
                        return Answer::error(
                            StatusCode::BAD_REQUEST,
                            "SBX_BAD_PARAM",
                            "Invalid skipToken",
                        )
                    }
                },
            };
            let page_size = param("pageSize")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(25)
                .clamp(1, 100);
            let include = param("includeMetadata").is_some_and(|v| v == "true");
            let (participants, next) = brand.directory.search(
                field("uniqueIdentifier").as_deref(),
                skip,
                page_size,
                include,
            );
            Answer::flat(
                StatusCode::OK,
                json!({"participants": participants, "skipToken": next}),
            )
        }
        (&Method::POST, ["import-participants"]) => {
            let participants = match serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("participants").and_then(Value::as_array).cloned())
            {
                Some(p) if !p.is_empty() => p,
                _ => {
                    return Answer::error(
                        StatusCode::BAD_REQUEST,
                        "SBX_BAD_BODY",
                        "The body needs a non-empty participants array.",
                    )
                }
            };
            if brand.directory.running_jobs() >= directory::MAX_CONCURRENT_JOBS {
                return Answer::error(
                    StatusCode::CONFLICT,
                    "SBX_TOO_MANY_JOBS",
                    "Too many concurrent jobs. Try again once a job has finished.",
                );
            }
            let job_id = brand.mint_id("IMJ_");
            let result_id = brand.mint_id("IMR_");
            brand.directory.add_job(directory::ImportJob {
                job_id: job_id.clone(),
                result_id,
                created: "2026-11-22T00:00:00Z".into(),
                polls: 0,
                request: participants,
                result: None,
            });
            Answer::flat(StatusCode::CREATED, json!({"jobId": job_id}))
        }
        (&Method::GET, ["import-participants", "results", result_id]) => {
            match brand
                .directory
                .jobs
                .values()
                .find(|j| j.result_id == *result_id)
                .and_then(|j| j.result.clone())
            {
                Some(result) => Answer::flat(StatusCode::OK, result),
                None => Answer::error(
                    StatusCode::NOT_FOUND,
                    "SBX_NO_RESULT",
                    format!("Result {result_id} not found"),
                ),
            }
        }
        (&Method::GET, ["import-participants", job_id]) => {
            let Some(job) = brand.directory.jobs.get_mut(*job_id) else {
                return Answer::error(
                    StatusCode::NOT_FOUND,
                    "SBX_NO_JOB",
                    format!("Job {job_id} not found"),
                );
            };
            job.polls += 1;
            let done = job.polls >= directory::POLLS_PER_JOB;
            let (job_id, result_id, created, polls) = (
                job.job_id.clone(),
                job.result_id.clone(),
                job.created.clone(),
                job.polls,
            );
            if done && job.result.is_none() {
                let request = job.request.clone();
                let result = brand.directory.import(&job_id, &result_id, &request);
                brand
                    .directory
                    .jobs
                    .get_mut(&job_id)
                    .expect("exists")
                    .result = Some(result);
                brand.recompute_roles();
            }
            let progress = (polls * 100 / directory::POLLS_PER_JOB).min(100);
            let mut info = json!({"jobId": job_id, "jobType": "participantImport", "creationDate": created, "progressPercent": progress.to_string()});
            if done {
                info["resultId"] = json!(result_id);
            }
            Answer::flat(StatusCode::OK, info)
        }
        _ => Answer::error(
            StatusCode::NOT_FOUND,
            "SBX_NO_ROUTE",
            "No such directory resource",
        ),
    }
}
