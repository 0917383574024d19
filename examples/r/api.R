# The wine model's prediction endpoint in plumber: a twin of the reference service's
# POST /v1/predict, for reading beside the Flask version. Run from this folder with
#   WINE_PARAMETERS=wine-parameters.json Rscript -e \
#     'plumber::pr("api.R") |> plumber::pr_run(host = "127.0.0.1", port = 8000, docs = FALSE)'
# The parameters file comes from `python -m examples.r wine-parameters.json`.

# Read once, when the API starts. simplifyVector turns the coefficients (an array of rows) into a
# classes-by-features matrix and every other array into a plain vector.
parameters <- jsonlite::fromJSON(Sys.getenv("WINE_PARAMETERS", "wine-parameters.json"))
features <- parameters$features
allowed_min <- vapply(features, function(f) parameters$domain[[f]]$allowed_min, numeric(1))
allowed_max <- vapply(features, function(f) parameters$domain[[f]]$allowed_max, numeric(1))

# The same arithmetic as the pipeline: standardise, a linear score per class, then the softmax.
probabilities <- function(x) {
  z <- (x - parameters$mean) / parameters$scale
  scores <- drop(parameters$coefficients %*% z) + parameters$intercepts
  e <- exp(scores - max(scores))  # the softmax is unchanged; exp cannot overflow
  e / sum(e)
}

# One error shape, as in the reference service: {"error": {status, code, message, details}}.
error_body <- function(res, status, code, message, details = list()) {
  res$status <- status
  list(error = list(status = status, code = code, message = message, details = details))
}

json_type <- function(value) {
  if (is.null(value)) return("null")
  if (is.logical(value)) return("a boolean")
  if (is.character(value)) return("a string")
  if (is.list(value)) return(if (is.null(names(value))) "an array" else "an object")
  "a number"
}

# plumber has no schema library: every check the reference service gets from pydantic is here.
problems_of <- function(body) {
  if (!is.list(body) || is.null(names(body))) {
    return(list(list(field = "body", problem = paste("must be an object, got", json_type(body)))))
  }
  found <- list()
  add <- function(field, problem) found[[length(found) + 1]] <<- list(field = field, problem = problem)
  for (name in setdiff(names(body), "features")) add(name, "is not an accepted field")
  given <- body$features
  if (!"features" %in% names(body)) {
    add("features", "is required")
  } else if (!is.list(given) || (length(given) > 0 && is.null(names(given)))) {
    add("features", paste("must be an object, got", json_type(given)))
  } else {
    for (name in features) {
      value <- given[[name]]
      where <- paste0("features.", name)
      if (!name %in% names(given)) add(where, "is required")
      else if (!is.numeric(value) || length(value) != 1) add(where, paste("must be a number, got", json_type(value)))
      else if (!is.finite(value)) add(where, "must be a finite number")
      else if (value < allowed_min[[name]]) add(where, paste0("must be at least ", allowed_min[[name]], ", got ", value))
      else if (value > allowed_max[[name]]) add(where, paste0("must be at most ", allowed_max[[name]], ", got ", value))
    }
    for (name in setdiff(names(given), features)) add(paste0("features.", name), "is not an accepted field")
  }
  found
}

#* Liveness: the process answers
#* @get /healthz
#* @serializer unboxedJSON
function() {
  list(status = "ok")
}

#* Predict the cultivar of one wine sent as {"features": {"alcohol": 13.2, ...}}
#* @post /v1/predict
#* @parser text
#* @serializer unboxedJSON list(digits = NA)
function(req, res) {
  # plumber parses a JSON body before this function runs and answers a malformed one with a
  # bare 500, so we let it parse only text/plain and read the raw bytes ourselves. (`@parser none`
  # says this directly, but in plumber 1.2.1 here it fails on every request.)
  body <- tryCatch(
    jsonlite::fromJSON(rawToChar(req$bodyRaw), simplifyVector = FALSE),
    error = function(e) NULL
  )
  if (is.null(body)) {
    return(error_body(res, 400L, "invalid_json", "The request body is not valid JSON."))
  }
  problems <- problems_of(body)
  if (length(problems) > 0) {
    first <- problems[[1]]
    more <- if (length(problems) > 1) {
      sprintf(" (and %d more problem(s), listed in details)", length(problems) - 1)
    } else ""
    message <- sprintf("The request is not valid: %s %s%s.", first$field, first$problem, more)
    return(error_body(res, 422L, "validation_error", message, problems))
  }
  x <- vapply(features, function(name) as.numeric(body$features[[name]]), numeric(1))
  p <- probabilities(x)
  list(
    prediction = parameters$classes[[which.max(p)]],
    probabilities = as.list(stats::setNames(p, parameters$classes)),
    model_version = parameters$model$version
  )
}
