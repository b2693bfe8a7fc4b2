"""Qwen's own prompt texts (Qwen2.5-VL, Qwen3-VL), byte for byte, each with its source.

The grounders built on Qwen keep theirs in `agent.models.grounder_prompts`.

The profile table (`agent.models.profiles`) refers to these. tests/test_profiles.py
checks each against a verbatim copy of the cited source literal (kept with its
repository, path and commit in tests/data/profile_sources.json). Source names
(SSP, QWEN25, ...) are spelled out at the top of `agent.models.profiles`.
``{instruction}``, ``{width}`` and ``{height}`` are placeholders filled in
literally; every other brace is the authors' own.
"""

from __future__ import annotations

# SSP models/qwen2_5vl.py get_qwen2_5vl_prompt_msg: the two system text parts joined (the
# chat template concatenates them); {{screen_width}}x{{screen_height}} -> {width}x{height}.
# Note the raw newlines inside the tool JSON and the three newlines before "# Tools": that
# is what the harness sends (qwen-agent, used in agent mode, escapes them and uses two).
QWEN25_GROUND_SYSTEM = (
    "You are a helpful assistant.\n"
    "\n"
    "\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    '{"type": "function", "function": {"name_for_human": "computer_use", "name": "computer_use", '
    '"description": "Use a mouse and keyboard to interact with a computer, and take screenshots.\n'
    "* This is an interface to a desktop GUI. You do not have access to a terminal or applications "
    "menu. You must click on desktop icons to start applications.\n"
    "* Some applications may take time to start or process actions, so you may need to wait and "
    "take successive screenshots to see the results of your actions. E.g. if you click on Firefox "
    "and a window doesn't open, try wait and taking another screenshot.\n"
    "* The screen's resolution is {width}x{height}.\n"
    "* Whenever you intend to move the cursor to click on an element like an icon, you should "
    "consult a screenshot to determine the coordinates of the element before moving the cursor.\n"
    "* If you tried clicking on a program or link but it failed to load, even after waiting, try "
    "adjusting your cursor position so that the tip of the cursor visually falls on the element "
    "that you want to click.\n"
    "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the "
    'element. Don\'t click boxes on their edges unless asked.", "parameters": {"properties": '
    '{"action": {"description": "The action to perform. The available actions are:\n'
    "* `key`: Performs key down presses on the arguments passed in order, then performs key "
    "releases in reverse order.\n"
    "* `type`: Type a string of text on the keyboard.\n"
    "* `mouse_move`: Move the cursor to a specified (x, y) pixel coordinate on the screen.\n"
    "* `left_click`: Click the left mouse button.\n"
    "* `left_click_drag`: Click and drag the cursor to a specified (x, y) pixel coordinate on the "
    "screen.\n"
    "* `right_click`: Click the right mouse button.\n"
    "* `middle_click`: Click the middle mouse button.\n"
    "* `double_click`: Double-click the left mouse button.\n"
    "* `scroll`: Performs a scroll of the mouse scroll wheel.\n"
    "* `wait`: Wait specified seconds for the change to happen.\n"
    '* `terminate`: Terminate the current task and report its completion status.", "enum": ["key", '
    '"type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click", '
    '"double_click", "scroll", "wait", "terminate"], "type": "string"}, "keys": {"description": '
    '"Required only by `action=key`.", "type": "array"}, "text": {"description": "Required only by '
    '`action=type`.", "type": "string"}, "coordinate": {"description": "(x, y): The x (pixels from '
    "the left edge) and y (pixels from the top edge) coordinates to move the mouse to. Required "
    'only by `action=mouse_move` and `action=left_click_drag`.", "type": "array"}, "pixels": '
    '{"description": "The amount of scrolling to perform. Positive values scroll up, negative '
    'values scroll down. Required only by `action=scroll`.", "type": "number"}, "time": '
    '{"description": "The seconds to wait. Required only by `action=wait`.", "type": "number"}, '
    '"status": {"description": "The status of the task. Required only by `action=terminate`.", '
    '"type": "string", "enum": ["success", "failure"]}}, "required": ["action"], "type": '
    '"object"}, "args_format": "Format the arguments as a JSON object."}}\n'
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
)
# SSP models/qwen2_5vl.py guide_text (the reply is prefilled up to the coordinate).
QWEN25_PREFILL = (
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": ['
)
# The same reply start for the mobile_use tool (screenpilot's own, for --mobile grounding).
QWEN25_MOBILE_PREFILL = (
    '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": ['
)

# SSP-Q3 models/qwen3vl.py get_qwen3vl_prompt_msg system text (1000x1000 is literal there).
QWEN3_GROUND_SYSTEM = (
    "You are a helpful assistant. The user will give you an instruction, and you MUST left click "
    "on the corresponding UI element via tool call. If you are not sure about where to click, "
    "guess a most likely one.\n"
    "\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    '{"type": "function", "function": {"name": "computer_use", "description": "Use a mouse to '
    "interact with a computer.\n"
    "* The screen's resolution is 1000x1000.\n"
    "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the "
    "element. \n"
    '* You can only use the left_click action to interact with the computer.", "parameters": '
    '{"properties": {"action": {"description": "The action to perform. The available actions are:\n'
    '* `left_click`: Click the left mouse button with coordinate (x, y).", "enum": ["left_click"], '
    '"type": "string"}, "coordinate": {"description": "(x, y): The x (pixels from the left edge) '
    "and y (pixels from the top edge) coordinates to move the mouse to. Required only by "
    '`action=left_click`.", "type": "array"}, "required": ["action"], "type": "object"}}}\n'
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
)
# QWEN3 cookbooks/mobile_agent.ipynb system_prompt: mobile_use on a 999x999 screen.
QWEN3_MOBILE_SYSTEM = (
    "\n"
    "\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    '{"type": "function", "function": {"name": "mobile_use", "description": "Use a touchscreen to '
    "interact with a mobile device, and take screenshots.\\n* This is an interface to a mobile "
    "device with touchscreen. You can perform actions like clicking, typing, swiping, etc.\\n* "
    "Some applications may take time to start or process actions, so you may need to wait and take "
    "successive screenshots to see the results of your actions.\\n* The screen's resolution is "
    "999x999.\\n* Make sure to click any buttons, links, icons, etc with the cursor tip in the "
    'center of the element. Don\'t click boxes on their edges unless asked.", "parameters": '
    '{"properties": {"action": {"description": "The action to perform. The available actions '
    "are:\\n* `click`: Click the point on the screen with coordinate (x, y).\\n* `long_press`: "
    "Press the point on the screen with coordinate (x, y) for specified seconds.\\n* `swipe`: "
    "Swipe from the starting point with coordinate (x, y) to the end point with coordinates2 (x2, "
    "y2).\\n* `type`: Input the specified text into the activated input box.\\n* `answer`: Output "
    "the answer.\\n* `system_button`: Press the system button.\\n* `wait`: Wait specified seconds "
    "for the change to happen.\\n* `terminate`: Terminate the current task and report its "
    'completion status.", "enum": ["click", "long_press", "swipe", "type", "answer", '
    '"system_button", "wait", "terminate"], "type": "string"}, "coordinate": {"description": "(x, '
    "y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move "
    'the mouse to. Required only by `action=click`, `action=long_press`, and `action=swipe`.", '
    '"type": "array"}, "coordinate2": {"description": "(x, y): The x (pixels from the left edge) '
    "and y (pixels from the top edge) coordinates to move the mouse to. Required only by "
    '`action=swipe`.", "type": "array"}, "text": {"description": "Required only by `action=type` '
    'and `action=answer`.", "type": "string"}, "time": {"description": "The seconds to wait. '
    'Required only by `action=long_press` and `action=wait`.", "type": "number"}, "button": '
    '{"description": "Back means returning to the previous interface, Home means returning to the '
    "desktop, Menu means opening the application background menu, and Enter means pressing the "
    'enter. Required only by `action=system_button`", "enum": ["Back", "Home", "Menu", "Enter"], '
    '"type": "string"}, "status": {"description": "The status of the task. Required only by '
    '`action=terminate`.", "type": "string", "enum": ["success", "failure"]}}, "required": '
    '["action"], "type": "object"}}}\n'
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>\n"
    "\n"
    "# Response format\n"
    "\n"
    "Response format for every step:\n"
    "1) Thought: one concise sentence explaining the next move (no multi-step reasoning).\n"
    "2) Action: a short imperative describing what to do in the UI.\n"
    '3) A single <tool_call>...</tool_call> block containing only the JSON: {"name": '
    '<function-name>, "arguments": <args-json-object>}.\n'
    "\n"
    "Rules:\n"
    "- Output exactly in the order: Thought, Action, <tool_call>.\n"
    "- Be brief: one sentence for Thought, one for Action.\n"
    "- Do not output anything else outside those three parts.\n"
    "- If finishing, use action=terminate in the tool call."
)

# QWEN3 cookbooks/utils/agent_function_call.py ComputerUse (description and parameters,
# verbatim), at 1000x1000, rendered as qwen-agent's NousFnCallPrompt renders a function
# (json.dumps of {"type": "function", "function": {name, description, parameters}}).
QWEN3_COMPUTER_TOOL = {
    "type": "function",
    "function": {
        "name": "computer_use",
        "description": (
            "Use a mouse and keyboard to interact with a computer, and take screenshots.\n"
            "* This is an interface to a desktop GUI. You do not have access to a terminal or "
            "applications menu. You must click on desktop icons to start applications.\n"
            "* Some applications may take time to start or process actions, so you may need to "
            "wait and take successive screenshots to see the results of your actions. E.g. if "
            "you click on Firefox and a window doesn't open, try wait and taking another "
            "screenshot.\n"
            "* The screen's resolution is 1000x1000.\n"
            "* Whenever you intend to move the cursor to click on an element like an icon, you "
            "should consult a screenshot to determine the coordinates of the element before "
            "moving the cursor.\n"
            "* If you tried clicking on a program or link but it failed to load, even after "
            "waiting, try adjusting your cursor position so that the tip of the cursor visually "
            "falls on the element that you want to click.\n"
            "* Make sure to click any buttons, links, icons, etc with the cursor tip in the "
            "center of the element. Don't click boxes on their edges."
        ),
        "parameters": {
            "properties": {
                "action": {
                    "description": (
                        "The action to perform. The available actions are:\n"
                        "* `key`: Performs key down presses on the arguments passed in order, "
                        "then performs key releases in reverse order.\n"
                        "* `type`: Type a string of text on the keyboard.\n"
                        "* `mouse_move`: Move the cursor to a specified (x, y) pixel coordinate "
                        "on the screen.\n"
                        "* `left_click`: Click the left mouse button at a specified (x, y) pixel "
                        "coordinate on the screen.\n"
                        "* `left_click_drag`: Click and drag the cursor to a specified (x, y) "
                        "pixel coordinate on the screen.\n"
                        "* `right_click`: Click the right mouse button at a specified (x, y) "
                        "pixel coordinate on the screen.\n"
                        "* `middle_click`: Click the middle mouse button at a specified (x, y) "
                        "pixel coordinate on the screen.\n"
                        "* `double_click`: Double-click the left mouse button at a specified "
                        "(x, y) pixel coordinate on the screen.\n"
                        "* `triple_click`: Triple-click the left mouse button at a specified "
                        "(x, y) pixel coordinate on the screen (simulated as double-click since "
                        "it's the closest action).\n"
                        "* `scroll`: Performs a scroll of the mouse scroll wheel.\n"
                        "* `hscroll`: Performs a horizontal scroll (mapped to regular scroll).\n"
                        "* `wait`: Wait specified seconds for the change to happen.\n"
                        "* `terminate`: Terminate the current task and report its completion "
                        "status.\n"
                        "* `answer`: Answer a question."
                    ),
                    "enum": [
                        "key",
                        "type",
                        "mouse_move",
                        "left_click",
                        "left_click_drag",
                        "right_click",
                        "middle_click",
                        "double_click",
                        "triple_click",
                        "scroll",
                        "hscroll",
                        "wait",
                        "terminate",
                        "answer",
                    ],
                    "type": "string",
                },
                "keys": {"description": "Required only by `action=key`.", "type": "array"},
                "text": {
                    "description": "Required only by `action=type` and `action=answer`.",
                    "type": "string",
                },
                "coordinate": {
                    "description": "(x, y): The x (pixels from the left edge) and y (pixels "
                    "from the top edge) coordinates to move the mouse to.",
                    "type": "array",
                },
                "pixels": {
                    "description": "The amount of scrolling to perform. Positive values scroll "
                    "up, negative values scroll down. Required only by `action=scroll` and "
                    "`action=hscroll`.",
                    "type": "number",
                },
                "time": {
                    "description": "The seconds to wait. Required only by `action=wait`.",
                    "type": "number",
                },
                "status": {
                    "description": "The status of the task. Required only by `action=terminate`.",
                    "type": "string",
                    "enum": ["success", "failure"],
                },
            },
            "required": ["action"],
            "type": "object",
        },
    },
}
