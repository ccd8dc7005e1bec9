"""The people pages' texts for rename, merge and the enrolment warnings, English and
Simplified Chinese, merged into ``i18n.TEXTS``.

Warnings come from the API with a ``code`` and values (``person_name``, ``person_id``,
``score``); the pages translate them by code here, so the Chinese UI never shows the server's
English message.
"""

from __future__ import annotations

PEOPLE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "person.manage": "Name and records",
        "person.new_name": "Name",
        "person.rename": "Rename",
        "person.renamed": "Renamed.",
        "person.merge_into": "Merge into person (id, or type a name)",
        "person.merge": "Merge",
        "person.merge_hint": "Two records of one person: the faces, attendance, door events "
        "and groups of this record move to the other person, then this record is deleted.",
        "person.merge_confirm": "Merge {from} into {into} (id {id})? {from}'s faces and history "
        "move to {into} and this record is deleted. This cannot be undone.",
        "person.merge_pick": "Choose the person to merge into (an id, or a name from the list).",
        "outcome.matches_other": "matches another person",
        "warning.same_name": "Somebody named {name} already exists (id {ids}).",
        "warning.matches_other": "This face already matches {name} (id {id}) at similarity "
        "{score}.",
        "warning.unlike_person": "This face is unlike the person's other faces (similarity "
        "{score}).",
        # a photo's quality reasons by code (engine/quality.py; app.js reasonText)
        "reason.too_small": "face too small ({value} px, needs {need} px)",
        "reason.blurry": "blurry (sharpness {value}, needs {need})",
        "reason.turned": "face turned aside ({value}°, limit {need}°)",
        "reason.tilted": "head tilted ({value}°, limit {need}°)",
        "reason.unclear": "face unclear (detector score {value}, needs {need})",
    },
    "zh": {
        "person.manage": "姓名与记录",
        "person.new_name": "姓名",
        "person.rename": "改名",
        "person.renamed": "已改名。",
        "person.merge_into": "合并到人员（编号，或输入姓名）",
        "person.merge": "合并",
        "person.merge_hint": "同一人的两条记录：此记录的人脸、考勤、门禁记录和分组将移到另一人，"
        "然后删除此记录。",
        "person.merge_confirm": "确定把 {from} 合并到 {into}（编号 {id}）吗？"
        "{from} 的人脸和记录将移到 {into}，此记录将被删除，且无法撤销。",
        "person.merge_pick": "请选择要合并到的人员（编号，或从列表中选择姓名）。",
        "outcome.matches_other": "与他人相符",
        "warning.same_name": "已有名为 {name} 的人员（编号 {ids}）。",
        "warning.matches_other": "此人脸已与 {name}（编号 {id}）相符，相似度 {score}。",
        "warning.unlike_person": "此人脸与此人的其他人脸不像（相似度 {score}）。",
        "reason.too_small": "人脸太小（{value} 像素，至少 {need} 像素）",
        "reason.blurry": "照片模糊（清晰度 {value}，至少 {need}）",
        "reason.turned": "脸部侧转（{value}°，上限 {need}°）",
        "reason.tilted": "头部俯仰过大（{value}°，上限 {need}°）",
        "reason.unclear": "人脸不清晰（检测分数 {value}，至少 {need}）",
    },
}
