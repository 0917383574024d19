# An R client of the reference service's POST /v1/predict, with httr2 (0.2.2 or later).
#   SERVING_API_KEY=... Rscript client.R http://127.0.0.1:8000 wines.json
# wines.json holds an array of wines, each an object of the 13 features. The key is read from the
# environment (or ~/.Renviron), never from the command line, where `ps` would show it.
library(httr2)

# One request: the key header, a timeout, up to `max_tries` attempts when the service answers 429
# or 503 (waiting the seconds its Retry-After header names), and no R error for a 4xx or 5xx, so
# that the caller can read the JSON error body.
predict_request <- function(base_url, features, api_key, timeout = 5, max_tries = 3) {
  request(base_url) |>
    req_url_path_append("v1", "predict") |>
    req_headers(`X-API-Key` = api_key) |>
    req_body_json(list(features = features)) |>
    req_timeout(timeout) |>
    req_retry(max_tries = max_tries) |>
    req_error(is_error = function(resp) FALSE)
}

# Perform it; the result says what came back, how many attempts it took and how long they took.
predict_wine <- function(base_url, features, api_key = Sys.getenv("SERVING_API_KEY"), ...) {
  attempts <- NA_integer_
  started <- Sys.time()
  resp <- withCallingHandlers(
    req_perform(predict_request(base_url, features, api_key, ...)),
    # httr2 signals how many requests it sent; we only listen, nothing is interrupted.
    httr2_fetch = function(condition) attempts <<- condition$n
  )
  seconds <- as.numeric(difftime(Sys.time(), started, units = "secs"))
  body <- if (identical(resp_content_type(resp), "application/json")) {
    resp_body_json(resp)
  } else {  # a proxy in front may answer with a page of HTML
    list(error = list(code = "not_json", message = resp_status_desc(resp)))
  }
  list(status = resp_status(resp), body = body, attempts = attempts, seconds = seconds)
}

# One line per answer: the prediction, or the service's own error message.
describe <- function(answer) {
  body <- answer$body
  outcome <- if (answer$status == 200) {
    sprintf("%s (p = %.4f)", body$prediction, body$probabilities[[body$prediction]])
  } else {
    sprintf("%s: %s", body$error$code, body$error$message)
  }
  sprintf("%d %s [%d attempt(s), ~%.1f s]", answer$status, outcome, answer$attempts, answer$seconds)
}

main <- function(args) {
  if (length(args) != 2) stop("usage: Rscript client.R BASE_URL WINES.json")
  if (!nzchar(Sys.getenv("SERVING_API_KEY"))) stop("set SERVING_API_KEY to your API key")
  wines <- jsonlite::fromJSON(args[[2]], simplifyVector = FALSE)
  for (i in seq_along(wines)) {
    answer <- tryCatch(
      describe(predict_wine(args[[1]], wines[[i]])),
      # No answer at all (refused, or slower than the timeout on every attempt) is an R error.
      httr2_failed = function(condition) paste("no answer:", conditionMessage(condition))
    )
    cat(sprintf("wine %d: %s\n", i, answer))
  }
}

if (!interactive() && sys.nframe() == 0L) main(commandArgs(trailingOnly = TRUE))
