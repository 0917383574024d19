"""Numbers in a chapter's prose: a time, a ratio or a percentage typed by hand.

A measured figure belongs in a code cell's output and reaches the text through glue (test_glue.py).
This scanner lists every notebook sentence that types a number with a unit of time, a percentage,
a multiplication sign or "times", outside code, math, glue pastes and substitutions. Many are not
measurements (a setting, a test level, a bound of a loop); those stay, listed below. A new one
fails the test: glue it from the cell that measured it, say it through a substitution, or, if it is
a stated value and not a measurement, add it to KNOWN with a reason in the commit message.
"""

from text_guards import NUMBER_WITH_UNIT, numbers_in_prose, prose_sentences

from tools.book_checks import REPO_ROOT

# Hand-typed numbers present when this guard was written (chapter: the sentence's first 90
# characters, code replaced by CODE). This list may only SHRINK: each entry is either a stated
# value that is fine as it is, or a figure to be glued by the chapter's author. Remove an entry
# when its sentence changes; the test below fails on entries that no longer match anything.
KNOWN = (
    "04: Our body will be CODE, every feature required, each inside the range recorded with the mod",
    "05: With CODE, urllib3 retries the first failure at once and then waits 0.2 × 2<sup>n−1</sup> ",
    "05: 0.4 s, 0.8 s, 1.6 s, and so on, up to two minutes.",
    "06: So we record the model's {term}CODE: for every feature its type, the range observed in tra",
    "06: Two of the 45 held-out wines would be refused: one has more proline than the allowed maxim",
    "08: We time a loop of many calls, repeat that 15 times and keep the median, which a few distur",
    "10: CODE was silently converted by numpy, and a wine with 1300 % alcohol, far outside anything",
    "11: The allowed range of each feature is the range seen in training, widened on each side by 1",
    "13: CODE makes the search repeatable, and CODE lifts hypothesis's default limit of 200 ms per ",
    "16: Four requests of half a second each, sent at once: two workers take two at a time, so the ",
    "16: Our configuration uses 30 s, far above any real request, so it fires only on a real hang.",
    "16: Once both workers answer, two workers serve two at a time: three rounds of 0.4 s, about 1.",
    "16: It survives: the timeout only fires when a worker stays silent longer than 3 s.",
    "16: Here one client sends the start of a request and the blank line that ends it 1.5 s later, ",
    "16: On the day this page was built the default took GLUED times as long as one thread each, wi",
    "17: The demonstration service, CODE, answers at once but stops for 100 ms every second, as a p",
    "17: A {term}CODE of latency says what share of requests were at least that fast: the p99 is th",
    "17: The largest of 200 misses the p99 with probability GLUED, so a bound that never exceeds it",
    "17: The largest of MATH samples bounds the p99 with 99 % confidence only from MATH GLUED.",
    "17: A two-sided 95 % interval needs GLUED: fewer, because each end may miss with 2.5 %, not 1 ",
    "17: The third target is generous, yet 200 requests cannot decide it: no order statistic of 200",
    "17: The system is the pausing service without pauses, doing 2 ms of work per request in one sy",
    "17: Each service's median round, then each comparison: the ratio of CPU per request in each ro",
    "17b: Two hundred coroutines that each wait 50 ms:",
    "17b: Say each prediction must first fetch a customer record from another service that takes 50 ",
    "17b: By {term}CODE, a server that can hold MATH requests at once, each lasting 50 ms, answers a",
    "17b: We measure each for 3 s.",
    "18: 99.9% of requests are not answered with a 5xx.",
    "18: The remaining 0.1% is the {term}CODE;",
    "18: 99% of single predictions take at most 50 ms inside Flask (50 ms is a bucket edge, so the ",
    "18: Burning 2% of a month's budget in one hour is a burn rate of MATH;",
    "18: 5% in six hours is MATH.",
    "18: Each alert asks for a long window (an hour, six hours) and a short one (5, 30 minutes), so",
    "18: The causes come next, each with its own rule in the same file: saturation (busy workers ov",
    "18: It adds a third tier (10% of the budget in three days, a burn rate of 1: a ticket), and wa",
    "18: Its budget is 1% of single predictions slower than 50 ms, and the share of slow requests i",
    "18: During a burn with a share MATH of slow requests, the hour's share after MATH minutes is M",
    "18: 43 minutes for MATH, 8.6 minutes if every request is slow, and the CODE adds two more.",
    "19: SQLite's own default is to fail at once (Python's CODE module asks for 5 s); the service w",
    "21: Each of the 1,000 test wines was drawn independently, so the number of agreements is binom",
    "22: A CPU limit on a container is a quota of its control group: so many microseconds of CPU ti",
    "23: An instance that fails once (CODE) is left out for 10 seconds (CODE), and CODE retries a r",
    "23: The tests run these exact arguments with one worker and six queued requests of 0.5 s each.",
    "23: The autoscaler changes the number of pods between 2 and 6 so that the pods' average CPU us",
    "23: In the last run the second instance was stopped 1.5 s into six seconds of load, as an oper",
    "23: Debian's server, started by the toolbox in a temporary folder, two instances behind nginx ",
    "23: The worker is freed when the client finishes, or when gunicorn's CODE (30 s by default) ha",
    "24: We build the traffic from the test split, which the model never saw: each of the 45 test w",
    "24: No feature is flagged (CODE compares the *adjusted* p-value, explained below, with 5%).",
    "24: Each KS test at level 5% raises a false alarm 5% of the time; with 13 features tested at o",
    "24: Holm's procedure {cite}CODE multiplies the smallest p-value by 13, the next by 12, and so ",
    "24: A model is {term}CODE when, among the predictions it makes with confidence about 0.8, abou",
    "24: In a {term}CODE rollout a small share of the requests, here 20%, goes to the new version, ",
)


def test_the_scanner_finds_typed_figures_and_skips_glued_ones():
    text = (
        "One call took ~2190 µs here. The ratio was 2.9× and 3x, or 12 times.\n\n"
        "Glued: {glue:text}`ch08-us` µs, and {{ busy_timeout }}. Code: `sleep(2)` and `0.5 s`.\n"
        "```python\ntime.sleep(3)  # 3 s\n```\nChapter 19 times both. A 700 x 700 matrix. The 200s."
    )
    flagged = [s for s in prose_sentences(text) if NUMBER_WITH_UNIT.search(s)]
    assert flagged == [
        "One call took ~2190 µs here.",
        "The ratio was 2.9× and 3x, or 12 times.",
    ]


def test_no_new_hand_typed_number_in_a_chapter():
    found = numbers_in_prose(REPO_ROOT)
    print("Hand-typed numbers in chapters:", *found, sep="\n  ")
    new = [sentence for sentence in found if sentence not in KNOWN]
    assert not new, "glue these from the cell that measured them:\n" + "\n".join(new)


def test_the_known_list_only_shrinks():
    found = set(numbers_in_prose(REPO_ROOT))
    gone = [sentence for sentence in KNOWN if sentence not in found]
    assert not gone, "these sentences changed or went: remove them from KNOWN\n" + "\n".join(gone)
