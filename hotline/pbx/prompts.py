# -*- test-case-name: tests.pbx.test_prompts -*-
"""Mandarin prompts synthesised with espeak-ng, since Debian ships no Chinese prompts."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

__all__ = ["PROMPTS", "PromptError", "build_prompts", "build_phrase", "number_words",
           "spoken_time", "to_pinyin"]

#: Prompt name → (the Chinese text it says, the same in tone-numbered pinyin for espeak-ng's
#: ``cmn-latn-pinyin`` voice; bookworm's ``cmn`` voice misreads Hanzi). Digits one by one.
PROMPTS: dict[str, tuple[str, str]] = {
    "welcome": (
        "您好，欢迎致电三六五民生热线，八三六五八三六五。本次通话将被录音。",
        "nin2 hao3, huan1 ying2 zhi4 dian4 san1 liu4 wu3 min2 sheng1 re4 xian4, "
        "ba1 san1 liu4 wu3 ba1 san1 liu4 wu3. ben3 ci4 tong1 hua4 jiang1 bei4 lu4 yin1.",
    ),
    # The queue could not take the call (full, or waited queue.max_wait_s).
    "overflow-callback": (
        "现在来电较多，我们已记下您的号码，稍后给您回电。再见。",
        "xian4 zai4 lai2 dian4 jiao4 duo1, wo3 men5 yi3 ji4 xia4 nin2 de5 hao4 ma3, "
        "shao1 hou4 gei3 nin2 hui2 dian4. zai4 jian4.",
    ),
    "overflow-busy": (
        "现在来电较多，请您稍后再拨。再见。",
        "xian4 zai4 lai2 dian4 jiao4 duo1, qing3 nin2 shao1 hou4 zai4 bo1. zai4 jian4.",
    ),
    "please-hold": (
        "坐席正忙，请稍候。",
        "zuo4 xi2 zheng4 mang2, qing3 shao1 hou4.",
    ),
    "connecting": (
        "正在为您接通相关部门，请稍候。",
        "zheng4 zai4 wei4 nin2 jie1 tong1 xiang1 guan1 bu4 men2, qing3 shao1 hou4.",
    ),
    # hotline/bridge: what the department hears before it joins, and the notices played into
    # the room when a department cannot be reached or leaves.
    "bridge-intro": (
        "您好，这里是三六五民生热线。坐席正在为一位市民接通三方通话，市民在线，请讲。",
        "nin2 hao3, zhe4 li3 shi4 san1 liu4 wu3 min2 sheng1 re4 xian4. "
        "zuo4 xi2 zheng4 zai4 wei4 yi2 wei4 shi4 min2 jie1 tong1 san1 fang1 tong1 hua4, "
        "shi4 min2 zai4 xian4, qing3 jiang3.",
    ),
    "bridge-noanswer": (
        "对方无人接听。",
        "dui4 fang1 wu2 ren2 jie1 ting1.",
    ),
    "bridge-busy": (
        "对方正忙。",
        "dui4 fang1 zheng4 mang2.",
    ),
    "bridge-congestion": (
        "线路拥塞，暂时无法接通。",
        "xian4 lu4 yong1 se4, zan4 shi2 wu2 fa3 jie1 tong1.",
    ),
    "bridge-unreachable": (
        "该号码无法接通。",
        "gai1 hao4 ma3 wu2 fa3 jie1 tong1.",
    ),
    "bridge-fallback": (
        "正在尝试备用号码，请稍候。",
        "zheng4 zai4 chang2 shi4 bei4 yong4 hao4 ma3, qing3 shao1 hou4.",
    ),
    "bridge-department-left": (
        "对方已挂断。",
        "dui4 fang1 yi3 gua4 duan4.",
    ),
    # scheduler/: the agent hears this before the citizen is dialled back; the survey asks
    # for one digit and thanks.
    "callback-notice": (
        "回访来电，正在接通市民。",
        "hui2 fang3 lai2 dian4, zheng4 zai4 jie1 tong1 shi4 min2.",
    ),
    "survey-ask": (
        "您好，这里是三六五民生热线回访。请对您诉求的办理情况评分，非常满意请按五，满意按四，"
        "基本满意按三，不满意按二，非常不满意按一。",
        "nin2 hao3, zhe4 li3 shi4 san1 liu4 wu3 min2 sheng1 re4 xian4 hui2 fang3. "
        "qing3 dui4 nin2 su4 qiu2 de5 ban4 li3 qing2 kuang4 ping2 fen1, "
        "fei1 chang2 man3 yi4 qing3 an4 wu3, man3 yi4 an4 si4, ji1 ben3 man3 yi4 an4 san1, "
        "bu4 man3 yi4 an4 er4, fei1 chang2 bu4 man3 yi4 an4 yi1.",
    ),
    # hotline/floor/keepplace.py: the waiting caller's offer (queue periodic announcement),
    # what they hear after pressing 1, and what the agent hears when the place's turn comes.
    "keep-place-offer": (
        "按1保留排队位置，稍后为您回电。",
        "an4 yi1 bao3 liu2 pai2 dui4 wei4 zhi4, shao1 hou4 wei4 nin2 hui2 dian4.",
    ),
    "keep-place-kept": (
        "已为您保留排队位置，轮到您时我们将给您回电，再见。",
        "yi3 wei4 nin2 bao3 liu2 pai2 dui4 wei4 zhi4, lun2 dao4 nin2 shi2 wo3 men5 jiang1 "
        "gei3 nin2 hui2 dian4, zai4 jian4.",
    ),
    "keep-place-agent": (
        "保留排队位置的市民，正在为您回拨。",
        "bao3 liu2 pai2 dui4 wei4 zhi4 de5 shi4 min2, zheng4 zai4 wei4 nin2 hui2 bo1.",
    ),
    "survey-thanks": (
        "感谢您的评价，再见。",
        "gan3 xie4 nin2 de5 ping2 jia4, zai4 jian4.",
    ),
    # scheduler/deadlines.py: the reminder (临期) and 督办 call to a department's duty number,
    # composed at call time: intro, the ticket number digit by digit, the deadline (month,
    # day, hour, minute), "press 1 to confirm" (spoken_reminder).
    "reminder-intro": (
        "您好，这里是三六五民生热线工单提醒。工单号",
        "nin2 hao3, zhe4 li3 shi4 san1 liu4 wu3 min2 sheng1 re4 xian4 gong1 dan1 ti2 xing3. "
        "gong1 dan1 hao4",
    ),
    "supervise-intro": (
        "您好，这里是三六五民生热线督办通知。工单号",
        "nin2 hao3, zhe4 li3 shi4 san1 liu4 wu3 min2 sheng1 re4 xian4 du1 ban4 tong1 zhi1. "
        "gong1 dan1 hao4",
    ),
    "reminder-due": ("办理期限为", "ban4 li3 qi1 xian4 wei2"),
    "reminder-overdue": ("已超过办理期限", "yi3 chao1 guo4 ban4 li3 qi1 xian4"),
    "reminder-press1": (
        "请及时办理并回复。确认收到请按一。",
        "qing3 ji2 shi2 ban4 li3 bing4 hui2 fu4. que4 ren4 shou1 dao4 qing3 an4 yi1.",
    ),
    "reminder-thanks": ("已确认，谢谢，再见。", "yi3 que4 ren4, xie4 xie4, zai4 jian4."),
    # hotline/agi/scripts/status.py: the status line (查询工单进度), offered after the greeting
    # (the menu waits status_line.menu_wait_s for a key, then the caller queues as before).
    "menu": (
        "查询工单进度请按二，其他请稍候。",
        "cha2 xun2 gong1 dan1 jin4 du4 qing3 an4 er4, qi2 ta1 qing3 shao1 hou4.",
    ),
    "status-ask-number": (
        "请输入十四位工单号，以井号键结束。",
        "qing3 shu1 ru4 shi2 si4 wei4 gong1 dan1 hao4, yi3 jing3 hao4 jian4 jie2 shu4.",
    ),
    "status-ask-last4": (
        "请输入您反映问题时所用电话号码的后四位。",
        "qing3 shu1 ru4 nin2 fan3 ying4 wen4 ti2 shi2 suo3 yong4 dian4 hua4 hao4 ma3 de5 "
        "hou4 si4 wei4.",
    ),
    "status-not-found": ("未找到，请重新输入。", "wei4 zhao3 dao4, qing3 chong2 xin1 shu1 ru4."),
    "status-to-agent": (
        "正在为您转接人工服务，请稍候。",
        "zheng4 zai4 wei4 nin2 zhuan3 jie1 ren2 gong1 fu2 wu4, qing3 shao1 hou4.",
    ),
    "status-busy": (
        "查询次数过多，正在为您转接人工服务，请稍候。",
        "cha2 xun2 ci4 shu4 guo4 duo1, zheng4 zai4 wei4 nin2 zhuan3 jie1 ren2 gong1 fu2 wu4, "
        "qing3 shao1 hou4.",
    ),
    "status-own": (
        "根据您的来电号码，查到您在办的工单如下。",
        "gen1 ju4 nin2 de5 lai2 dian4 hao4 ma3, cha2 dao4 nin2 zai4 ban4 de5 gong1 dan1 ru2 xia4.",
    ),
    "status-own-more": (
        "查询其他工单请按一，如需人工服务请按零。",
        "cha2 xun2 qi2 ta1 gong1 dan1 qing3 an4 yi1, ru2 xu1 ren2 gong1 fu2 wu4 qing3 an4 ling2.",
    ),
    "status-intro": ("您的工单，当前状态为", "nin2 de5 gong1 dan1, dang1 qian2 zhuang4 tai4 wei2"),
    "status-department": ("承办部门为", "cheng2 ban4 bu4 men2 wei2"),
    "status-no-department": ("尚未确定承办部门", "shang4 wei4 que4 ding4 cheng2 ban4 bu4 men2"),
    "status-no-due": ("尚无办理期限", "shang4 wu2 ban4 li3 qi1 xian4"),
    "status-end": (
        "如需人工服务请按零。感谢您的来电，再见。",
        "ru2 xu1 ren2 gong1 fu2 wu4 qing3 an4 ling2. gan3 xie4 nin2 de5 lai2 dian4, zai4 jian4.",
    ),
    # One per ticket status (hotline.tickets.schemas.STATUS_LABELS says them the same way).
    "status-received": ("已受理", "yi3 shou4 li3"),
    "status-dispatched": ("已派单", "yi3 pai4 dan1"),
    "status-handling": ("办理中", "ban4 li3 zhong1"),
    "status-replied": ("已回复", "yi3 hui2 fu4"),
    "status-followed_up": ("已回访", "yi3 hui2 fang3"),
    "status-closed": ("已办结", "yi3 ban4 jie2"),
    "status-reopened": ("重办", "chong2 ban4"),
    "status-merged": ("已合并", "yi3 he2 bing4"),
    "status-returned": ("已退单", "yi3 tui4 dan1"),
    "word-yue": ("月", "yue4"),
    "word-ri": ("日", "ri4"),
    "word-dian": ("点", "dian3"),
    "word-fen": ("分", "fen1"),
    "word-zheng": ("整", "zheng3"),
    "num-10": ("十", "shi2"),
    **{f"digit-{d}": (h, p) for d, (h, p) in enumerate(zip(
        "零一二三四五六七八九",
        ("ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"),
        strict=True))},
}


class PromptError(Exception):
    """A prompt cannot be made; the message says which tool is missing or failed."""


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PromptError(f"{cmd[0]} failed (exit {proc.returncode}): {proc.stderr.strip()}")


def _speak(out: Path, pinyin: str, *, short: bool) -> None:
    """Write ``out`` (8 kHz mono 16-bit): ``pinyin`` said by espeak-ng, or the short set's
    silence."""
    if short:
        _run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(out),
              "trim", "0", str(SHORT_PROMPT_S)])
        return
    raw = out.with_name(f".{out.stem}.raw.wav")
    _run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "150", "-w", str(raw), pinyin])
    _run(["sox", "-G", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)])
    raw.unlink()


def number_words(n: int) -> list[str]:
    """0-99 as the prompts that say it in Mandarin (十七 = num-10 digit-7)."""
    if n < 10:
        return [f"digit-{n}"]
    tens, units = divmod(n, 10)
    words = ([] if tens == 1 else [f"digit-{tens}"]) + ["num-10"]
    return words + ([f"digit-{units}"] if units else [])


def spoken_time(local: dt.datetime) -> list[str]:
    """A local time as the prompts that say it: 十二月四日十七点三十分 (整 on the hour); the
    year is left out, a deadline being weeks away at most."""
    words = number_words(local.month) + ["word-yue"]
    words += number_words(local.day) + ["word-ri"]
    words += number_words(local.hour) + ["word-dian"]
    return words + (number_words(local.minute) + ["word-fen"] if local.minute else ["word-zheng"])


def to_pinyin(text: str) -> str:
    """Tone-numbered pinyin for espeak-ng; text that is pinyin already passes through."""
    if not any("\u3400" <= ch <= "\u9fff" for ch in text):
        return text
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))


def build_phrase(out_dir: Path, text: str, *, short: bool = False) -> str:
    """Say a text no prompt holds (a department's name) into ``out_dir/<stem>.wav``, made once
    and kept; returns the stem, for Playback. Blocking (espeak-ng, sox): run it on a thread.
    ``short`` writes the short set's silence instead, as L{build_prompts} does."""
    if not text.strip():
        raise PromptError("nothing to say: the text is empty")
    pinyin = to_pinyin(text)
    stem = "phrase-" + hashlib.sha1(
        (f"short:{SHORT_PROMPT_S}" if short else pinyin).encode()).hexdigest()[:16]
    out = out_dir / f"{stem}.wav"
    if out.exists():
        return stem
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{stem}.tmp.wav"
    _speak(tmp, pinyin, short=short)
    tmp.rename(out)  # whole or not at all: Playback never finds half a file
    return stem


#: Length of every prompt in the short set (``pbx.short_prompts``).
SHORT_PROMPT_S = 0.3


def build_prompts(sounds_dir: Path, *, short: bool = False) -> list[Path]:
    """Write ``zh/<name>.wav`` (8 kHz mono 16-bit, what Playback takes) and a hold-music loop.

    ``short`` writes every prompt as ``SHORT_PROMPT_S`` of silence instead of speech: tests and
    load runs then spend no 10 s greeting per call, while the dialplan plays the same files in
    the same places. Files whose text (and set) has not changed are kept, so a restart costs
    nothing.
    """
    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            raise PromptError(f"{tool} is not installed: run `make deps` "
                              f"(or `apt-get install {tool}`)")
    zh = sounds_dir / "zh"
    zh.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, (_hanzi, pinyin) in PROMPTS.items():
        out = zh / f"{name}.wav"
        stamp = zh / f".{name}.sha1"
        digest = hashlib.sha1((f"short:{SHORT_PROMPT_S}" if short else pinyin).encode()).hexdigest()
        if out.exists() and stamp.exists() and stamp.read_text() == digest:
            written.append(out)
            continue
        _speak(out, pinyin, short=short)
        stamp.write_text(digest)
        written.append(out)
    moh = sounds_dir / "moh"
    moh.mkdir(exist_ok=True)
    tone = moh / "soft-tone.wav"
    if not tone.exists():
        # Two quiet alternating notes: enough for a caller to know the line is alive.
        _run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(tone),
              "synth", "0.6", "sine", "523", "sine", "659", "vol", "0.15",
              "pad", "0", "1.4", "repeat", "4"])
    written.append(tone)
    return written
