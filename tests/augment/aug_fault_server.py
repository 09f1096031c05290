"""A small OpenAI-compatible server on 127.0.0.1 for fault tests (FastAPI + uvicorn in a thread).

Not a mock of our code: a real HTTP server the real openai SDK talks to. It answers from a script
of faults (429 with Retry-After, 500, slow answers, malformed JSON, refusals, plain text) and,
once the script is used up, with well-formed JSON built from the request (so the approved path
of the gates is exercised). It records every request it received.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from augment.server import free_port


@dataclass
class Fault:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None  # 200: the assistant's content (None: the good JSON answer)
    sleep_s: float = 0.0
    raw_body: str | None = None  # send this body verbatim (a malformed response)


def _material(user: str, label: str) -> list[str]:
    return [m.strip() for m in re.findall(rf"{label}:\s*(.+)", user)]


def good_answer(body: dict) -> str:
    """Well-formed JSON for whichever template the request used (recognised by its JSON hint)."""
    user = body["messages"][-1]["content"]
    questions, answers = _material(user, "질문"), _material(user, "답변")
    if '{"formal"' in user:
        core = questions[0].rstrip("?？. ")
        return json.dumps(
            {
                "formal": [
                    f"{core}에 대해 전문가의 설명을 듣고 싶습니다",
                    f"{core}와 관련하여 알려주실 수 있습니까",
                ],
                "colloquial": [f"{core} 좀 알려줄 수 있어요?", f"혹시 {core} 아시는 분 계세요?"],
            },
            ensure_ascii=False,
        )
    if '{"answers"' in user:
        a = answers[0]
        sentences = [x for x in re.split(r"(?<=[.!?])\s+", a) if x]
        return json.dumps(
            {"answers": [" ".join(reversed(sentences)), f"정리하면, {a}", f"{a} 참고하시기 바랍니다."]},
            ensure_ascii=False,
        )
    if '{"keywords"' in user:
        text = " ".join(questions + answers)
        terms = [
            "곰팡이",
            "결로",
            "환기",
            "들뜸",
            "초배",
            "석고보드",
            "퍼티",
            "걸레받이",
            "실리콘",
            "코킹재",
            "단열",
        ]
        found = [t for t in terms if t in text]
        return json.dumps({"keywords": found + ["방화문"]}, ensure_ascii=False)  # 방화문: not in the text
    if '{"pairs"' in user and '핵심어 "' not in user:  # from-docs: one grounded pair, one made up
        chunk = user.split("<자료>", 1)[1].split("</자료>", 1)[0].strip()
        first = re.split(r"(?<=[.!?])\s+", chunk)[0]
        return json.dumps(
            {
                "pairs": [
                    {"question": "이 하자는 왜 생기고 어떻게 하나요?", "answer": first},
                    {
                        "question": "보수 비용은 얼마나 드나요?",
                        "answer": "보수 비용은 평당 삼만 원이며 보증 기간은 십 년입니다. 주말에는 할증이 붙습니다.",
                    },
                ]
            },
            ensure_ascii=False,
        )
    if '{"pairs"' in user:
        kw = re.search(r'핵심어 "([^"]+)"', user).group(1)
        return json.dumps(
            {
                "pairs": [
                    {
                        "question": f"새로 지은 집인데 {kw} 문제가 벌써 보이면 시공사에 무엇을 요청해야 하나요?",
                        "answer": f"입주 후 {kw} 문제가 보이면 사진과 날짜를 기록해 두고 하자 보수 기간 안에 시공사에 "
                        "점검과 보수를 요청하시면 됩니다. 원인을 확인한 뒤 재시공 범위를 정하는 것이 좋습니다.",
                    }
                ]
            },
            ensure_ascii=False,
        )
    return "알 수 없는 요청입니다."


class FaultServer:
    """`with FaultServer() as srv:`; `srv.base_url`, `srv.script(...)`, `srv.requests`."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self.times: list[float] = []
        self._script: list[Fault] = []
        self._lock = threading.Lock()
        self.responder = good_answer
        self.app = self._build_app()

    def script(self, *faults: Fault) -> None:
        with self._lock:
            self._script.extend(faults)

    def _next(self) -> Fault:
        with self._lock:
            return self._script.pop(0) if self._script else Fault()

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/health")
        async def health():
            return {"status": "ok"}

        @app.get("/v1/models")
        async def models():
            return {"object": "list", "data": [{"id": "fault-model", "object": "model", "owned_by": "test"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            with self._lock:
                self.requests.append(body)
                self.times.append(time.monotonic())
            fault = self._next()
            if self.delay_s or fault.sleep_s:
                await asyncio.sleep(self.delay_s + fault.sleep_s)
            if fault.raw_body is not None:
                return Response(
                    fault.raw_body,
                    status_code=fault.status,
                    media_type="application/json",
                    headers=fault.headers,
                )
            if fault.status != 200:
                return JSONResponse(
                    {"error": {"message": f"injected {fault.status}", "type": "fault"}},
                    status_code=fault.status,
                    headers=fault.headers,
                )
            content = fault.content if fault.content is not None else self.responder(body)
            return {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "fault-model"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {
                    "prompt_tokens": len(json.dumps(body)) // 4,
                    "completion_tokens": len(content) // 2,
                    "total_tokens": 0,
                },
            }

        return app

    def __enter__(self) -> FaultServer:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fault server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
