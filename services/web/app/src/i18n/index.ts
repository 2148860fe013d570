// One dictionary per language; Russian by default, English switchable (remembered in localStorage).
import { signal } from "../signal";
import { en } from "./en";
import { ru, type Dictionary } from "./ru";

export type Lang = "ru" | "en";
export type Key = keyof Dictionary;

const dictionaries: Record<Lang, Dictionary> = { ru, en };

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem("parta.lang");
    if (saved === "ru" || saved === "en") return saved;
  } catch {
    // storage disabled: default
  }
  return "ru";
}

export const lang = signal<Lang>(initialLang());

export function setLang(next: Lang): void {
  lang.set(next);
  document.documentElement.lang = next;
  try {
    localStorage.setItem("parta.lang", next);
  } catch {
    // storage disabled: this page only
  }
}

export function t(key: Key, params: Record<string, string | number> = {}): string {
  const text = dictionaries[lang.get()][key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

export function locale(): string {
  return lang.get() === "ru" ? "ru-RU" : "en-GB";
}
