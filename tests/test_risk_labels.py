"""Which labels are destructive: whole words and phrases, English and Chinese, nouns spared."""

from __future__ import annotations

import pytest

from agent.models.ocr_match import OcrLine
from agent.risk_labels import line_risk, lines_at, text_risk

RISKY = [
    "Delete", "DELETE FILE", "Remove from cart", "Erase", "Send", "Send message", "Pay $20.00",
    "Buy now", "Purchase", "Place order", "Order", "Order now", "Transfer money", "Submit",
    "Uninstall", "Format disk", "Reset settings", "Factory reset", "Sign out", "Sign  Out",
    "Log out", "Logout", "Discard", "Discard changes", "Close without saving", "Don\u2019t Save",
    "Delete history", "Yes, delete it", "Shut down",
    "删除", "确认删除", "移除", "发送", "立即支付", "购买", "下单", "转账", "提交订单", "卸载",
    "格式化", "重置", "退出登录", "注销", "放弃", "不保存",
    # issue 19.10: hyphens, underscores, case, and the acts that were missing
    "Sign-out", "SIGN_OUT", "sign‐out", "Signout", "Log-out", "Log-Out", "log_out",
    "Log-off", "Move to Trash", "Move to trash", "move-to-trash", "Clear history",
    "Clear History", "Clear all data", "Clear-all-data", "Close account", "Close Account",
    "Cancel subscription", "Cancel Subscription", "Unsubscribe", "UNSUBSCRIBE", "Overwrite",
    "Over-write", "Replace", "Replace All", "Destroy", "Quit", "QUIT", "Exit", "Force Quit",
    "Force-Quit", "force_quit", "清除", "清除历史记录", "退出", "强制退出",
]  # fmt: skip
SAFE = [
    "OK", "Cancel", "Save", "Open", "Settings", "File", "Deleted items", "Sent", "Orders",
    "Order history", "Order status", "Sort order", "Purchase history", "Transfer status",
    "Format: PNG", "Format options", "Payment methods", "Sender", "Resetting", "Submitted",
    "已删除", "已发送", "支付方式", "支付宝", "转账记录", "订单历史", "设置", "保存",
    "Sign in", "Sign-in", "Log-in", "Cancel", "Subscribe", "Clear", "History", "Account",
    "Find and Replace", "Find & Replace", "Exit full screen", "Exit Fullscreen", "Quite good",
    "Exits", "Replaced", "Destroyed", "退出全屏", "Move", "Trash",
]  # fmt: skip


@pytest.mark.parametrize("label", RISKY)
def test_destructive_labels_are_risky(label: str) -> None:
    assert text_risk(label) is not None, label


@pytest.mark.parametrize("label", SAFE)
def test_ordinary_labels_are_not(label: str) -> None:
    assert text_risk(label) is None, (label, text_risk(label))


def test_the_reason_names_the_word_that_matched() -> None:
    assert text_risk("Place order") == "places an order ('order')"
    assert text_risk("确认删除") == "deletes (删除) ('删除')"


def test_the_reason_quotes_the_label_as_written() -> None:
    assert text_risk("Sign-out") == "ends the session ('Sign-out')"
    assert text_risk("Force-Quit") == (
        "force-quits an application (unsaved work is lost) ('Force-Quit')"
    )


def test_a_long_line_is_judged_by_the_words_under_the_point() -> None:
    # a menu bar read as one line, 34 characters of 20 px: "Format" spans x 440..560
    menu = OcrLine("File Edit View Insert Format Tools", (0, 0, 680, 20))
    assert line_risk(menu, 40) is None  # on "File"
    assert line_risk(menu, 500) is not None  # on "Format"
    assert line_risk(menu, 630) is None  # on "Tools"
    # a button label is judged whole wherever the click lands on it
    assert line_risk(OcrLine("Place order", (0, 0, 220, 20)), 10) is not None


def test_only_text_under_the_point_counts() -> None:
    delete = OcrLine("Delete", (100, 100, 160, 120))
    assert lines_at([delete], 130, 110, pad=8) == [delete]
    assert lines_at([delete], 130, 126, pad=8) == [delete]  # just below the text
    assert lines_at([delete], 130, 150, pad=8) == []  # an empty field under the button
