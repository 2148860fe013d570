// A poll (chat's PollService, docs/chat.md "Polls"): the card in the chat (vote, results when the
// poll lets me see them, close for its author) and the form staff create it with.
import { useEffect, useRef, useState } from "preact/hooks";
import { call } from "../api";
import { formatTime } from "./common";
import { t } from "../i18n";
import { type MessageSnapshot } from "../live";
import { nameOf } from "../names";
import { myUserId } from "../session";
import { useSignal, type Signal } from "../signal";
import { useSubmit } from "../submit";
import { fromLocalInput, Polls, VoiceError } from "./voiceCommon";

export interface PollOption {
  text: string;
  votes?: number;
  voterUserIds?: string[];
}

export interface Poll {
  pollId: string;
  chatId: string;
  seq: string;
  authorUserId: string;
  question: string;
  options: PollOption[];
  multipleChoice?: boolean;
  anonymous?: boolean;
  perFamily?: boolean;
  resultsAfterClose?: boolean;
  closesAt?: string;
  closed?: boolean;
  resultsVisible?: boolean;
  voterCount?: number;
  voted?: boolean;
  myChoices?: number[];
}

/** A voter's open poll is read again this often (voters get no live signal: docs/chat.md "Polls"). */
const VOTER_REFRESH_MS = 5_000;

interface CardProps {
  poll: Poll;
  moderator: boolean;
  /** Bumped when the live stream says someone voted (the author's streams only). */
  progress: Signal<number>;
  onChange(poll: Poll): void;
}

export function PollCard({ poll: p, moderator, progress, onChange }: CardProps) {
  const me = myUserId();
  const owner = p.authorUserId === me || moderator;
  const live = useSignal(progress);
  const [chosen, setChosen] = useState<number[]>([]);
  const { busy, error, setError, run } = useSubmit();
  const first = useRef(true);

  async function reload() {
    try {
      onChange((await call<{ poll: Poll }>(Polls, "GetPoll", { chatId: p.chatId, seq: p.seq }, { idempotent: true })).poll);
    } catch (e) {
      setError(e);
    }
  }

  // The author hears of each vote on the live stream and reads the counts again.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    void reload();
  }, [live]);

  // A voter of an open poll: read it again while the card is on screen (new counts, or — with
  // results only after closing — the closing that shows them).
  useEffect(() => {
    if (owner || p.closed || !p.voted) return;
    const timer = window.setInterval(() => void reload(), VOTER_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [owner, p.closed, p.voted, p.chatId, p.seq]);

  function vote(event: Event) {
    event.preventDefault();
    return run(
      () => call<{ poll: Poll }>(Polls, "Vote", { chatId: p.chatId, seq: p.seq, optionIndexes: chosen }, { idempotent: true }),
      (reply) => onChange(reply.poll),
    );
  }

  async function close() {
    if (!window.confirm(t("pollCloseConfirm"))) return;
    await run(
      () => call<{ poll: Poll }>(Polls, "ClosePoll", { chatId: p.chatId, seq: p.seq }, { idempotent: true }),
      (reply) => onChange(reply.poll),
    );
  }

  const headingId = `poll-${p.seq}`;
  const canVote = !p.voted && !p.closed;
  const total = p.voterCount ?? 0;
  const flags = [
    p.multipleChoice ? t("pollMultiple") : t("pollSingle"),
    p.anonymous ? t("pollAnonymous") : t("pollNamed"),
    ...(p.perFamily ? [t("pollPerFamily")] : []),
    ...(p.resultsAfterClose ? [t("pollResultsAfterClose")] : []),
  ];
  return (
    <section class="voice-card poll" aria-labelledby={headingId} data-poll-seq={p.seq}>
      <h2 id={headingId} class="voice-kind">
        {t("pollTitle")}: <span class="poll-question">{p.question}</span>
      </h2>
      <p class="muted">{flags.join(" · ")}</p>
      <p class="muted">
        {p.closed ? t("pollClosed") : p.closesAt ? t("pollClosesAt", { time: formatTime(p.closesAt) }) : t("pollOpen")}
      </p>
      {canVote && (
        <form onSubmit={vote}>
          <fieldset>
            <legend>{p.multipleChoice ? t("pollChooseMany") : t("pollChooseOne")}</legend>
            {p.options.map((option, index) => (
              <label class="check poll-choice" key={index}>
                <input
                  type={p.multipleChoice ? "checkbox" : "radio"}
                  name={`poll-${p.chatId}-${p.seq}`}
                  checked={chosen.includes(index)}
                  onChange={(e) => {
                    const on = e.currentTarget.checked;
                    setChosen((current) =>
                      p.multipleChoice ? (on ? [...current, index].sort((a, b) => a - b) : current.filter((i) => i !== index)) : [index],
                    );
                  }}
                />
                {option.text}
              </label>
            ))}
          </fieldset>
          <button type="submit" disabled={busy || chosen.length === 0}>
            {t("pollVote")}
          </button>
        </form>
      )}
      {p.voted && (
        <p class="poll-voted">{t("pollYouVoted", { choices: (p.myChoices ?? []).map((i) => p.options[i]?.text ?? "").join(", ") })}</p>
      )}
      {p.resultsVisible ? (
        <div class="poll-results" role="status" aria-live="polite">
          <p class="poll-total">{t("pollVoters", { count: total })}</p>
          <ul class="plain">
            {p.options.map((option, index) => (
              <li key={index} class="poll-result" data-option={index}>
                <span class="poll-option-text">{option.text}</span>{" "}
                <span class="poll-votes">{t("pollVotes", { count: option.votes ?? 0 })}</span>
                <progress max={Math.max(total, 1)} value={option.votes ?? 0} aria-label={t("pollShare", { option: option.text })} />
                {(option.voterUserIds ?? []).length > 0 && <span class="muted poll-names">{(option.voterUserIds ?? []).map(nameOf).join(", ")}</span>}
              </li>
            ))}
          </ul>
        </div>
      ) : (
        p.voted && <p class="muted">{t("pollResultsLater")}</p>
      )}
      <VoiceError error={error} />
      {owner && !p.closed && (
        <button type="button" class="secondary" onClick={close} disabled={busy}>
          {t("pollClose")}
        </button>
      )}
    </section>
  );
}

const MAX_OPTIONS = 10;

interface FormProps {
  chatId: string;
  /** Family polls make sense where guardians are (the parents' chat, the school channel). */
  familiesHere: boolean;
  onCreated(poll: Poll, message: MessageSnapshot | undefined): void;
  onCancel(): void;
}

export function PollForm({ chatId, familiesHere, onCreated, onCancel }: FormProps) {
  const [question, setQuestion] = useState("");
  const [options, setOptions] = useState(["", ""]);
  const [multiple, setMultiple] = useState(false);
  const [anonymous, setAnonymous] = useState(false);
  const [perFamily, setPerFamily] = useState(false);
  const [afterClose, setAfterClose] = useState(false);
  const [closesAt, setClosesAt] = useState("");
  const { busy, error, run } = useSubmit();
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => first.current?.focus(), []);

  function submit(event: Event) {
    event.preventDefault();
    return run(
      (requestId) =>
        call<{ poll: Poll; message?: MessageSnapshot }>(
          Polls,
          "CreatePoll",
          {
            chatId,
            clientMessageId: requestId,
            question,
            options: options.map((o) => o.trim()).filter(Boolean),
            multipleChoice: multiple,
            anonymous,
            perFamily: familiesHere && perFamily,
            resultsAfterClose: afterClose,
            ...(closesAt ? { closesAt: fromLocalInput(closesAt) } : {}),
          },
          { idempotent: true },
        ),
      (reply) => onCreated(reply.poll, reply.message),
    );
  }

  return (
    <form class="card voice-form" onSubmit={submit} aria-labelledby="poll-form-title">
      <h2 id="poll-form-title">{t("pollNew")}</h2>
      <label for="poll-question">{t("pollQuestion")}</label>
      <input id="poll-question" ref={first} required value={question} onInput={(e) => setQuestion(e.currentTarget.value)} />
      {options.map((option, index) => (
        <div key={index} class="poll-option-field">
          <label for={`poll-option-${index}`}>{t("pollOptionLabel", { n: index + 1 })}</label>
          <div class="row">
            <input
              id={`poll-option-${index}`}
              value={option}
              onInput={(e) => {
                const value = e.currentTarget.value;
                setOptions((current) => current.map((o, i) => (i === index ? value : o)));
              }}
            />
            {options.length > 2 && (
              <button
                type="button"
                class="link"
                aria-label={t("pollRemoveOption", { n: index + 1 })}
                onClick={() => setOptions((current) => current.filter((_, i) => i !== index))}
              >
                ✕
              </button>
            )}
          </div>
        </div>
      ))}
      {options.length < MAX_OPTIONS && (
        <button type="button" class="link" onClick={() => setOptions((current) => [...current, ""])}>
          {t("pollAddOption")}
        </button>
      )}
      <div class="voice-checks">
        <label class="check">
          <input type="checkbox" checked={multiple} onChange={(e) => setMultiple(e.currentTarget.checked)} />
          {t("pollMultipleLabel")}
        </label>
        <label class="check">
          <input type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.currentTarget.checked)} />
          {t("pollAnonymousLabel")}
        </label>
        <label class="check">
          <input type="checkbox" checked={afterClose} onChange={(e) => setAfterClose(e.currentTarget.checked)} />
          {t("pollAfterCloseLabel")}
        </label>
        {familiesHere && (
          <label class="check">
            <input type="checkbox" checked={perFamily} onChange={(e) => setPerFamily(e.currentTarget.checked)} />
            {t("pollPerFamilyLabel")}
          </label>
        )}
      </div>
      <label for="poll-closes">{t("pollClosesLabel")}</label>
      <input id="poll-closes" type="datetime-local" value={closesAt} onInput={(e) => setClosesAt(e.currentTarget.value)} />
      <VoiceError error={error} />
      <div class="row">
        <button type="submit" disabled={busy || !question.trim() || options.filter((o) => o.trim()).length < 2}>
          {t("pollCreate")}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          {t("cancel")}
        </button>
      </div>
    </form>
  );
}
