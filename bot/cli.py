"""The `citebot` command: ingest, ask, sources, serve, eval.

Settings are loaded once here and passed down; commands stay thin.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from pydantic import ValidationError

from bot.render import clean, mark_spans, one_line
from bot.settings import Settings
from retrieval import Answer, Archive, CitebotError, IngestReport
from retrieval.index import discard_index_files
from retrieval.ingest.feeds import FeedRepair, repair_feed_store
from retrieval.ingest.web import is_url


def main(argv: Sequence[str] | None = None) -> int:
    from retrieval.settings import ENV_FILE_VARIABLE, env_file

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    dotenv = env_file()  # the project's .env or CITEBOT_ENV_FILE's, never the current dir's
    if dotenv is not None and not dotenv.is_file():
        print(f"error: {ENV_FILE_VARIABLE} names {dotenv}, which is not a file", file=sys.stderr)
        return 2
    read = f"settings from {dotenv}" if dotenv else "settings from the environment, no .env file"
    logging.getLogger(__name__).info("%s", read)
    if args.command == "serve":
        print(f"citebot: {read}", file=sys.stderr)
    try:
        settings = Settings(_env_file=dotenv)  # type: ignore[call-arg]
        return int(args.run(args, settings) or 0)
    except ValidationError as exc:
        for problem in exc.errors():
            name = ".".join(str(part) for part in problem["loc"]).upper()
            if not name:  # a rule over several settings: its message names them
                print(f"error: {problem['msg'].removeprefix('Value error, ')}", file=sys.stderr)
                continue
            value = problem.get("input")
            print(f"error: setting {name}={value!s}: {problem['msg']}", file=sys.stderr)
        print("(see .env.example for every setting)", file=sys.stderr)
        return 2
    except CitebotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `citebot ask … | head`: the reader has gone, nothing to report
        sys.stderr.close()
        return 0
    except BaseException as exc:  # a Rust panic in chromadb that no store method caught
        from retrieval.index.store import is_panic

        if not is_panic(exc):
            raise
        detail = (str(exc).strip().splitlines() or ["a panic"])[0][:300]
        print(
            f"error: the vector store failed on damaged data ({detail});"
            " run `citebot ingest --rebuild` to rebuild it from the corpus",
            file=sys.stderr,
        )
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citebot", description="Answer questions about a document archive, with citations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="add, update or remove documents in the index")
    ingest.add_argument(
        "paths",
        nargs="*",
        help="files, folders or web addresses (default: corpus/, uploads and fetched pages)",
    )
    ingest.add_argument(
        "--feeds", action="store_true", help="poll every subscribed feed once, ingest what changed"
    )
    ingest.add_argument(
        "--rebuild", action="store_true", help="discard the manifest and index files, re-ingest"
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.set_defaults(run=cmd_ingest)

    ask = commands.add_parser("ask", help="answer a question with cited passages")
    ask.add_argument("question", nargs="?", help="the question (or --voice FILE)")
    ask.add_argument(
        "--voice",
        type=Path,
        metavar="FILE",
        help="a recording of the question (OGG/Opus, MP3, M4A, WAV…), transcribed offline",
    )
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(run=cmd_ask)

    sources = commands.add_parser("sources", help="what the index holds")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(run=cmd_sources)

    feeds = commands.add_parser("feeds", help="RSS/Atom subscriptions: add, list, remove, repair")
    feed_actions = feeds.add_subparsers(dest="action", required=True)
    for action, text in (("add", "subscribe to a feed"), ("remove", "unsubscribe")):
        sub = feed_actions.add_parser(action, help=text)
        sub.add_argument("url")
    feed_list = feed_actions.add_parser("list", help="the subscriptions and their state")
    feed_list.add_argument("--json", action="store_true")
    feed_actions.add_parser(
        "repair",
        help="set a damaged feed list aside (kept as a backup) and subscribe again to the"
        " feeds the saved pages name",
    )
    feeds.set_defaults(run=cmd_feeds, json=False)

    feedback = commands.add_parser(
        "feedback", help="recent answers that users voted down (👎), to see what did not help"
    )
    feedback.add_argument("--limit", type=int, default=20, help="at most N votes (default 20)")
    feedback.add_argument("--all", action="store_true", help="👍 votes too")
    feedback.add_argument("--json", action="store_true", help="one JSON object per vote")
    feedback.set_defaults(run=cmd_feedback)

    serve = commands.add_parser("serve", help="run the Telegram bot")
    serve.add_argument("--webhook", metavar="URL", help="use a webhook at this public URL")
    serve.add_argument("--listen", metavar="HOST", help="address the webhook server binds to")
    serve.add_argument("--port", type=int, help="port the webhook server listens on")
    serve.set_defaults(run=cmd_serve)

    evaluate = commands.add_parser("eval", help="measure retrieval and answer quality")
    kinds = evaluate.add_subparsers(dest="kind", required=True)
    beir = kinds.add_parser("beir", help="ranking quality on a BEIR data set, stage by stage")
    beir.add_argument("path", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    beir.add_argument("--qrels", type=Path, help="qrels TSV (default: DIR/qrels/SPLIT.tsv)")
    beir.add_argument("--split", default="test", help="qrels split (default: test)")
    squad = kinds.add_parser("squad", help="paragraph retrieval and answers on SQuAD v1.1")
    squad.add_argument("path", type=Path, help="a SQuAD v1.1 JSON file (e.g. dev-v1.1.json)")
    squad.add_argument("--every", type=int, default=1, help="ask every N-th question")
    refusal = kinds.add_parser(
        "refusal", help="refusals on SQuAD questions whose article is not indexed"
    )
    refusal.add_argument("path", type=Path, help="a SQuAD v1.1 JSON file")
    refusal.add_argument("--every", type=int, default=5, help="ask every N-th question")
    squad2 = kinds.add_parser(
        "squad2", help="refusals and answers on SQuAD 2.0 (every paragraph indexed)"
    )
    squad2.add_argument("path", type=Path, help="a SQuAD 2.0 JSON file (e.g. dev-v2.0.json)")
    squad2.add_argument("--every", type=int, default=1, help="ask every N-th question")
    for sub in (beir, squad, refusal, squad2):
        sub.add_argument("--limit", type=int, help="ask at most N questions")
        sub.add_argument(
            "--subset",
            choices=("all", "even", "odd"),
            default="all",
            help="ask the even- or odd-numbered half (tune on one, report the other)",
        )
        sub.add_argument(
            "--cache",
            type=Path,
            help="keep the index in this folder and reuse it (default: a fresh temporary one)",
        )
        sub.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.set_defaults(run=cmd_eval)
    return parser


def open_archive(settings: Settings) -> Archive:
    return Archive(settings)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    if args.rebuild and not args.paths:
        discard_index_files(settings)  # before opening: a damaged file must not block its repair
        if settings.feeds_path.exists():
            print_feed_repair(repair_feed_store(settings.feeds_path, settings.pages_dir))
    archive = open_archive(settings)
    bar = tqdm(total=0, unit="file", disable=args.json or not sys.stderr.isatty(), file=sys.stderr)

    def progress(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.set_postfix_str(name[-40:], refresh=False)
        bar.update(done - bar.n)

    urls = [p for p in args.paths if is_url(p)]
    paths = [Path(p) for p in args.paths if not is_url(p)]
    if urls or args.feeds:
        if args.rebuild:
            print("error: --rebuild takes no web addresses or --feeds", file=sys.stderr)
            return 2
        status = ingest_web(archive, urls, args.feeds, as_json=args.json)
        if not paths:
            return status
    if args.rebuild:
        if paths:
            print("error: --rebuild re-ingests the corpus folder; give no paths", file=sys.stderr)
            return 2
        report = archive.rebuild(progress)
    else:
        report = archive.ingest(paths or None, progress)
    bar.close()
    print_report(report, as_json=args.json)
    return 1 if report.failed and not (report.added or report.changed or report.unchanged) else 0


def ingest_web(archive: Archive, urls: list[str], feeds: bool, as_json: bool) -> int:
    """Fetch and ingest web pages and/or one round of feeds; 1 if nothing could be added."""
    failed = 0
    if urls:
        results, report = archive.add_links(urls)
        failed += sum(1 for r in results if r.error)
        if as_json:
            print(
                json.dumps(
                    {"links": [asdict(r) for r in results], "ingest": asdict(report)}, default=str
                )
            )
        else:
            for r in results:
                print(f"{r.url}: {r.error or f'{r.change}, “{r.title}”'}")
            print(report.summary())
    if feeds:
        poll_report, report = archive.poll_feeds(every_feed=True)
        if as_json:
            print(json.dumps({"feeds": asdict(poll_report), "ingest": asdict(report)}, default=str))
        else:
            for url, reason in poll_report.failed:
                print(f"feed failed: {url}: {reason}")
            print(poll_report.summary())
            print(report.summary())
        failed += len(poll_report.failed)
    return 1 if failed and failed >= len(urls) + (1 if feeds else 0) else 0


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.ingest.fetching import FetchError

    archive = open_archive(settings)
    if args.action == "add":
        try:
            feed = archive.subscribe(args.url)
        except FetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"subscribed to {feed.url}; `citebot ingest --feeds` or `citebot serve` fetches it")
    elif args.action == "remove":
        if not archive.unsubscribe(args.url):
            print(f"error: not subscribed to {args.url}", file=sys.stderr)
            return 1
        print(f"unsubscribed from {args.url} (its articles stay in the archive)")
    elif args.action == "repair":
        repair = archive.repair_feeds()
        if repair.status == "sound":
            print(f"{settings.feeds_path} is sound; nothing to repair")
        print_feed_repair(repair)
    else:
        feeds = archive.feeds()
        if args.json:
            print(json.dumps([asdict(f) for f in feeds], default=str))
        elif not feeds:
            print("No feeds. Add one with `citebot feeds add URL`.")
        for f in [] if args.json else feeds:
            state = f"failing: {f.last_error}" if f.failures else "ok"
            print(f"{f.url}  {f.title or ''}  ({state})")
    return 0


def print_feed_repair(repair: FeedRepair) -> None:
    """What a repair of the feed list did (nothing for a sound one)."""
    if repair.status == "sound":
        return
    if repair.backup is not None:
        print(f"the damaged feed list is kept as {repair.backup}")
    named = "".join(f"\n  {url}" for url in repair.subscribed)
    print(
        f"a new feed list subscribes to the {_count(len(repair.subscribed), 'feed')} the saved"
        f" pages name (the next round fetches each afresh){':' if named else ''}{named}"
    )


def print_report(report: IngestReport, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(asdict(report)))
        return
    # Names and reasons come from file names and documents: no escape codes reach the terminal.
    for name, reason in report.failed:
        print(f"failed: {one_line(name)}: {one_line(reason)}")
    for name, reason in report.skipped:
        print(f"skipped: {one_line(name)}: {one_line(reason)}")
    if report.orphans_deleted:
        print(f"cleaned up {report.orphans_deleted} chunks left by an interrupted ingest")
    print(report.summary())


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    if (args.question is None) == (args.voice is None):
        print("error: give a question or --voice FILE (one of them)", file=sys.stderr)
        return 2
    if args.voice is not None and not args.voice.is_file():
        print(f"error: {args.voice} is not a file", file=sys.stderr)
        return 2
    archive = open_archive(settings)
    if not len(archive.lexical):
        print("The index is empty: run `citebot ingest` first.", file=sys.stderr)
        return 1
    heard = archive.transcribe(args.voice).text if args.voice is not None else None
    answer = archive.ask(heard or args.question).answer
    if args.json:
        data = answer.to_dict()
        if heard is not None:
            data["transcript"] = heard
        print(json.dumps(data))
    else:
        print(f"🎤 “{heard}”\n\n{format_answer(answer)}" if heard else format_answer(answer))
    return 0


def format_answer(answer: Answer) -> str:
    """The answer as text: the answer itself between ** inside its sentence, then sources
    (without control characters: a document's text and names are not the terminal's)."""
    lines = [clean(marked(answer.text, answer.highlights))]
    lines += ["", "Nearest sources:" if answer.refused else "Sources:"]
    for c in answer.citations:
        meta = ", ".join(
            one_line(part)
            for part in (c.title, c.date.isoformat() if c.date else "", c.link, c.location)
            if part
        )
        lines.append(f"[{c.n}] {meta}")
        lines.append(f"    “{one_line(marked(c.quote, c.highlights))}”")
    return "\n".join(lines)


def marked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """text with each span (offsets into it) between `**`."""
    return mark_spans(text, spans, "**", "**")


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    archive = open_archive(settings)
    stats = archive.stats(newest=10_000)
    if args.json:
        print(
            json.dumps(
                {
                    "documents": stats.documents,
                    "chunks": stats.chunks,
                    "first_date": stats.first_date.isoformat() if stats.first_date else None,
                    "last_date": stats.last_date.isoformat() if stats.last_date else None,
                    "items": [asdict(d) for d in stats.newest],
                }
            )
        )
        return 0
    span = ""
    if stats.first_date and stats.last_date:
        span = f", dated {stats.first_date.isoformat()} to {stats.last_date.isoformat()}"
    print(f"{_count(stats.documents, 'document')}, {_count(stats.chunks, 'chunk')}{span}")
    for doc in stats.newest:
        print(
            f"  {doc.date or '----------'}  {one_line(doc.title)}"
            f"  ({one_line(doc.url or doc.source)}, {_count(doc.chunks, 'chunk')})"
        )
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    import datetime as dt

    from bot.feedback import FeedbackStore

    if args.limit < 1:
        print("error: --limit takes a positive number", file=sys.stderr)
        return 2
    path = settings.feedback_path
    if not path.exists():
        print(f"No feedback recorded yet ({path} does not exist).", file=sys.stderr)
        return 0
    votes = FeedbackStore(path).votes(None if args.all else -1, args.limit)
    if args.json:
        for vote in votes:
            print(json.dumps(asdict(vote)))
        return 0
    if not votes:
        print("No votes recorded yet." if args.all else "No answer has been voted down.")
    for vote in votes:
        when = dt.datetime.fromtimestamp(vote.voted_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        mark = "👍" if vote.vote > 0 else "👎"
        print(f"{when}  {mark} user {vote.user_id} in chat {vote.chat_id}")
        print(f"  Q: {one_line(vote.question)}")
        print(f"  A: {clean(vote.answer)}")
        for c in vote.citations:
            fields = ("title", "date", "url", "source")
            meta = ", ".join(one_line(str(c[k])) for k in fields if c.get(k))
            print(f"    [{c.get('n')}] {meta}")
            print(f"        “{one_line(c.get('quote', ''))}”")
        print()
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

    from bot.app import build_application
    from bot.serving import ServeConfigError, check_token, choose_mode, serve

    try:
        check_token(settings)
        mode = choose_mode(settings, args.webhook, args.listen, args.port)
    except ServeConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    archive = open_archive(settings)  # the index is opened once; the model loads at start-up
    application = build_application(settings, archive)
    api = settings.telegram_api_base_url or "https://api.telegram.org"
    try:
        asyncio.run(serve(application, mode, ready=lambda s: print(s, file=sys.stderr)))
    except InvalidToken:
        print(
            f"error: the Bot API at {api} rejected TELEGRAM_BOT_TOKEN; check it with @BotFather",
            file=sys.stderr,
        )
        return 1
    except BadRequest as exc:  # e.g. setWebhook refused the URL (a NetworkError in PTB)
        print(f"error: the Bot API refused to start the bot: {exc}", file=sys.stderr)
        return 1
    except NetworkError as exc:
        print(f"error: cannot reach the Bot API at {api}: {exc}", file=sys.stderr)
        return 1
    except TelegramError as exc:
        print(f"error: the Bot API refused to start the bot: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. the webhook port is taken
        print(f"error: cannot start the bot: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.eval import run as evaluation
    from retrieval.eval.data import load_beir, load_squad
    from retrieval.eval.report import render, to_json

    if (args.limit is not None and args.limit < 1) or getattr(args, "every", 1) < 1:
        print("error: --limit and --every take a positive number", file=sys.stderr)
        return 2

    def progress(phase: str, done: int, total: int) -> None:
        what = "documents indexed" if phase == "index" else "questions asked"
        print(f"{done:,}/{total:,} {what}", file=sys.stderr, flush=True)

    def nothing_to_ask() -> int:
        print("error: no questions to ask (check --subset and --limit)", file=sys.stderr)
        return 2

    report: (
        evaluation.BeirReport
        | evaluation.SquadReport
        | evaluation.RefusalReport
        | evaluation.Squad2Report
    )
    if args.kind == "beir":
        data = load_beir(args.path, args.qrels, args.split)
        questions = evaluation.select(data.questions, args.subset, args.limit)
        if not questions:
            return nothing_to_ask()
        with evaluation.eval_index(data, settings, None, args.cache, progress) as index:
            report = evaluation.evaluate_beir(index, questions, progress)
    elif args.kind == "squad":
        data = load_squad(args.path, every=args.every)
        questions = evaluation.select(data.questions, args.subset, args.limit)
        if not questions:
            return nothing_to_ask()
        with evaluation.eval_index(data, settings, None, args.cache, progress) as index:
            report = evaluation.evaluate_squad(index, questions, progress)
    elif args.kind == "squad2":
        data = load_squad(args.path, every=args.every)
        questions = evaluation.select(data.questions, args.subset, args.limit)
        if not questions:
            return nothing_to_ask()
        # Refusal by answerability alone while asking; the threshold is applied in the report.
        rules_only = settings.model_copy(update={"refusal_threshold": 0.0})
        with evaluation.eval_index(data, rules_only, None, args.cache, progress) as index:
            report = evaluation.evaluate_squad2(
                index, questions, settings.refusal_threshold, progress
            )
    else:
        corpus, answerable, unanswerable = evaluation.split_for_refusal(
            load_squad(args.path, every=args.every)
        )
        answerable = evaluation.select(answerable, args.subset, args.limit)
        unanswerable = evaluation.select(unanswerable, args.subset, args.limit)
        if not answerable or not unanswerable:
            return nothing_to_ask()
        with evaluation.eval_index(corpus, settings, None, args.cache, progress) as index:
            report = evaluation.evaluate_refusal(index, answerable, unanswerable, progress)
    print(to_json(report) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
