"""The pages' two languages, English and Simplified Chinese.

The language is the ``lang`` cookie (set by the switch on every page) or, without one, the
best match in the browser's ``Accept-Language``. Texts are plain dictionaries: the pages are
small and a translator can read this file without tooling.
"""

from __future__ import annotations

from typing import Literal

from facegate.api.web.texts_access import ACCESS_TEXTS
from facegate.api.web.texts_attendance import ATTENDANCE_TEXTS
from facegate.api.web.texts_live import LIVE_TEXTS
from facegate.api.web.texts_liveness import LIVENESS_TEXTS
from facegate.api.web.texts_pages import PAGE_TEXTS
from facegate.api.web.texts_people import PEOPLE_TEXTS
from facegate.api.web.texts_schedule import SCHEDULE_TEXTS
from facegate.choices import one_of

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
LANG_COOKIE = "facegate_lang"

TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "app": "facegate",
        "nav.people": "People",
        "nav.enrol": "Enrol",
        "nav.identify": "Identify",
        "nav.logout": "Sign out",
        "login.title": "Sign in",
        "login.key": "API key",
        "login.help": "Paste an admin or monitor key (from `make run` or `facegate keys create`).",
        "login.submit": "Sign in",
        "login.bad": "That key is unknown or revoked.",
        "login.device_key": "This is a device key (scope {scope}): it works with the API but "
        "cannot sign in. Sign in with an admin or monitor key.",
        "people.title": "People",
        "people.search": "Search name or external id",
        "people.empty": "Nobody is enrolled yet.",
        "people.faces": "faces",
        "people.total": "people",
        "people.prev": "Previous",
        "people.next": "Next",
        "person.external_id": "External id",
        "person.created": "Enrolled",
        "person.photos": "Enrolled faces",
        "person.no_photos": "No face enrolled.",
        "person.delete": "Delete this person",
        "person.confirm": "Erase this person and all their face data?",
        "person.remove_face": "Remove",
        "person.add": "Add photos",
        "enrol.title": "Enrol a person",
        "enrol.name": "Name",
        "enrol.external_id": "External id (optional)",
        "enrol.photos": "Photos",
        "enrol.submit": "Enrol",
        "enrol.working": "Enrolling…",
        "enrol.done": "Enrolled {n} of {total} photo(s).",
        "enrol.none": "No photo was usable; nobody was enrolled.",
        "enrol.need_photo": "Add at least one photo.",
        "enrol.view": "Open the person's page",
        "camera.start": "Start camera",
        "camera.snap": "Take snapshot",
        "camera.stop": "Stop camera",
        "camera.error": "Camera unavailable",
        "camera.snapshots": "Snapshots",
        "identify.title": "Identify",
        "identify.photo": "Photo",
        "identify.submit": "Identify",
        "identify.working": "Identifying…",
        "identify.none": "No face found.",
        "identify.found": "{n} face(s) found",
        "identify.unknown": "Unknown",
        "identify.similarity": "similarity",
        "outcome.accepted": "accepted",
        "outcome.duplicate": "already enrolled",
        "outcome.bad_image": "not an image",
        "outcome.no_face": "no face",
        "outcome.several_faces": "several faces",
        "outcome.low_quality": "low quality",
        "error": "Error",
        "error.forbidden": "This key is not allowed to do that.",
    },
    "zh": {
        "app": "facegate",
        "nav.people": "人员",
        "nav.enrol": "录入",
        "nav.identify": "识别",
        "nav.logout": "退出",
        "login.title": "登录",
        "login.key": "API 密钥",
        "login.help": "粘贴 admin 或 monitor 密钥（来自 `make run` 或 `facegate keys create`）。",
        "login.submit": "登录",
        "login.bad": "密钥无效或已被吊销。",
        "login.device_key": "这是设备密钥（权限 {scope}）：只能调用 API，不能登录页面。"
        "请使用 admin 或 monitor 密钥登录。",
        "people.title": "人员",
        "people.search": "按姓名或外部编号搜索",
        "people.empty": "还没有录入任何人。",
        "people.faces": "张人脸",
        "people.total": "人",
        "people.prev": "上一页",
        "people.next": "下一页",
        "person.external_id": "外部编号",
        "person.created": "录入时间",
        "person.photos": "已录入的人脸",
        "person.no_photos": "没有录入人脸。",
        "person.delete": "删除此人",
        "person.confirm": "确定删除此人及其全部人脸数据吗？",
        "person.remove_face": "移除",
        "person.add": "添加照片",
        "enrol.title": "录入人员",
        "enrol.name": "姓名",
        "enrol.external_id": "外部编号（可选）",
        "enrol.photos": "照片",
        "enrol.submit": "录入",
        "enrol.working": "正在录入…",
        "enrol.done": "已录入 {total} 张照片中的 {n} 张。",
        "enrol.none": "没有可用的照片，未录入任何人。",
        "enrol.need_photo": "请至少添加一张照片。",
        "enrol.view": "查看此人页面",
        "camera.start": "打开摄像头",
        "camera.snap": "拍照",
        "camera.stop": "关闭摄像头",
        "camera.error": "摄像头不可用",
        "camera.snapshots": "快照",
        "identify.title": "识别",
        "identify.photo": "照片",
        "identify.submit": "识别",
        "identify.working": "正在识别…",
        "identify.none": "未发现人脸。",
        "identify.found": "发现 {n} 张人脸",
        "identify.unknown": "陌生人",
        "identify.similarity": "相似度",
        "outcome.accepted": "已接受",
        "outcome.duplicate": "已录入过",
        "outcome.bad_image": "不是图片",
        "outcome.no_face": "没有人脸",
        "outcome.several_faces": "多张人脸",
        "outcome.low_quality": "质量太低",
        "error": "错误",
        "error.forbidden": "此密钥无权执行该操作。",
    },
}

TEXTS = {lang: {**TEXTS[lang], **ATTENDANCE_TEXTS[lang]} for lang in LANGS}
TEXTS = {lang: {**TEXTS[lang], **LIVE_TEXTS[lang]} for lang in LANGS}
TEXTS = {lang: {**TEXTS[lang], **PEOPLE_TEXTS[lang]} for lang in LANGS}
TEXTS = {lang: {**TEXTS[lang], **ACCESS_TEXTS[lang], **LIVENESS_TEXTS[lang]} for lang in LANGS}
TEXTS = {lang: {**TEXTS[lang], **PAGE_TEXTS[lang]} for lang in LANGS}
TEXTS = {lang: {**TEXTS[lang], **SCHEDULE_TEXTS[lang]} for lang in LANGS}


def parse_accept_language(header: str) -> Lang:
    """The first supported language in ``Accept-Language`` by preference (default English).

    Any Chinese tag counts as Simplified Chinese: the only Chinese the pages have.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def choose(cookie: str | None, accept_language: str | None) -> Lang:
    return one_of(cookie, LANGS) or parse_accept_language(accept_language or "")
