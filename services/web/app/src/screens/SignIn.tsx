// Sign in with phone and code: AuthService.RequestCode, then VerifyCode (the gateway keeps the
// session in its httpOnly cookies). Locally the code lands in the dev SMS file instead of an SMS.
import { useEffect, useRef, useState } from "preact/hooks";
import { Auth, call, newId } from "../api";
import { ErrorNote } from "../components/common";
import { t } from "../i18n";
import { useSubmit } from "../submit";

interface Challenge {
  challengeId: string;
  resendAfterSeconds?: number;
  codeLength?: number;
}

export function SignIn({ onSignedIn }: { onSignedIn: (userId: string) => void }) {
  const [phone, setPhone] = useState("");
  const [code, setCode] = useState("");
  const [challenge, setChallenge] = useState<Challenge | null>(null);
  const { busy, error, run } = useSubmit();
  const [wait, setWait] = useState(0);
  const codeInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (wait <= 0) return;
    const timer = window.setTimeout(() => setWait(wait - 1), 1000);
    return () => window.clearTimeout(timer);
  }, [wait]);

  useEffect(() => {
    if (challenge) codeInput.current?.focus();
  }, [challenge]);

  function requestCode(event?: Event) {
    event?.preventDefault();
    return run(
      // A new request id each time, not the form's: identity answers a repeated request id with the
      // stored challenge and no SMS, even when the first attempt failed after storing it (docs/web.md).
      // Not retried by itself: the person asks again.
      () => call<Challenge>(Auth, "RequestCode", { phone, requestId: newId() }),
      (reply) => {
        setChallenge(reply);
        setCode("");
        setWait(reply.resendAfterSeconds ?? 0);
      },
    );
  }

  async function verify(event: Event) {
    event.preventDefault();
    if (!challenge) return;
    await run(
      () =>
        call<{ userId: string }>(Auth, "VerifyCode", {
          challengeId: challenge.challengeId,
          code: code.trim(),
          deviceName: "Web browser",
        }),
      (reply) => onSignedIn(reply.userId),
    );
  }

  return (
    <section class="card narrow" aria-labelledby="signin-title">
      <h1 id="signin-title">{t("signInTitle")}</h1>
      {!challenge ? (
        <form onSubmit={requestCode}>
          <p>{t("signInIntro")}</p>
          <label for="phone">{t("phone")}</label>
          <input
            id="phone"
            name="phone"
            type="tel"
            autoComplete="tel"
            inputMode="tel"
            required
            placeholder="+7 900 000-00-00"
            value={phone}
            onInput={(e) => setPhone(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy || !phone.trim()}>
            {t("sendCode")}
          </button>
        </form>
      ) : (
        <form onSubmit={verify}>
          <p>{t("codeSentTo", { phone })}</p>
          <label for="code">{t("code")}</label>
          <input
            id="code"
            name="code"
            ref={codeInput}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
            maxLength={challenge.codeLength || 6}
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy || !code.trim()}>
            {t("verify")}
          </button>
          <div class="row">
            <button type="button" class="link" onClick={() => setChallenge(null)}>
              {t("changePhone")}
            </button>
            {wait > 0 ? (
              <span class="muted">{t("resendIn", { seconds: wait })}</span>
            ) : (
              <button type="button" class="link" onClick={() => requestCode()} disabled={busy}>
                {t("resend")}
              </button>
            )}
          </div>
        </form>
      )}
      <ErrorNote error={error} />
    </section>
  );
}
