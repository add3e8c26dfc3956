"""Chinese, Japanese and Korean names: a run of 2–4 Han characters, or a Hangul word, that
opens with one of the commonest surnames (or is a name of the lexicon), where it stands apart
from text in its own script, after a cue ("我叫", "名前は", "제 이름은") or before an
honorific ("先生", "さん", "씨").
"""

from __future__ import annotations

import re

from .name_lexicon import lexicon
from .scripts import CJK, Token

Found = tuple[str, int, int]

_CJK_CUE = re.compile(
    r"(?:我叫|我是|我的名字是|名字是|名叫|叫做|姓名[:：]?|联系人[:：]?|聯繫人[:：]?|"
    r"名前は|私の名前は|제 이름은)\s*$")
_HONORIFIC = re.compile(r"^\s*(?:先生|女士|小姐|老师|老師|同学|同學|さん|様|さま|氏|君|くん|ちゃん|"
                        r"先輩|씨|님|선생님)")
# the commonest surnames: Chinese (simplified and traditional) and Korean
_CN_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金"
    "石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章"
    "鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟"
    "艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席"
    "卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄"
    "丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕"
    "楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练"
    "廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦"
    "戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉"
    "银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸"
    "奉植衡富尧闭由張劉陳楊黃趙吳孫馬鄭謝韓馮鄧蕭許蘇呂盧鍾譚陸葉"
    "蔣賈龔錢嚴湯羅鄒顧溫聶魯歐蘭紀畢單喬龐顏莊駱藍鮑饒繆項蘆麥婁"
    "竇黨衛閔鄔邊師欒榮鞏談樂儲勞藺樓聞厲區闞權帥練鄺")
_CN_DOUBLE = frozenset("欧阳 司马 诸葛 上官 歐陽 司馬 諸葛 东方 東方 皇甫 令狐 慕容".split())
_KR_SURNAMES = frozenset(
    "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남"
    "심노하곽성차주우구민진나지엄채원천방공현함변염여추도소석선설"
    "마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부")


def east_asian(text: str, t: Token, home: str, cued: bool) -> list[Found]:
    """Chinese, Japanese and Korean names in a run of those scripts (`t`); `cued`: a cue
    of another language stands right before it ("my name is")."""
    words = lexicon()
    apart = t.script != home and not (home in CJK and t.script in CJK)
    cue = bool(_CJK_CUE.search(text[max(0, t.start - 12):t.start])) or cued
    run = t.word
    if t.script == "HANGUL":
        honorific = bool(_HONORIFIC.match(text, t.end))
        korean = (2 <= len(run) <= 4 and run[0] in _KR_SURNAMES and run[1:] in words)
        if korean or ((apart or cue or honorific) and run in words):
            return [("NAME", t.start, t.end)]
        return []
    if apart or cue:
        name = _han_name(run, 0)
        return [("NAME", t.start, t.start + name)] if name else []
    found: list[Found] = []
    for m in _CJK_CUE_INSIDE.finditer(run):
        if name := _han_name(run, m.end()):
            found.append(("NAME", t.start + m.end(), t.start + m.end() + name))
    for m in _HONORIFIC_INSIDE.finditer(run):
        for n in (3, 2):
            head = run[max(0, m.start() - n):m.start()]
            if len(head) == n and (_surnamed(head) or (n == 2 and head in words)):
                found.append(("NAME", t.start + m.start() - n, t.start + m.start()))
                break
    if _HONORIFIC.match(text, t.end):
        for n in (3, 2):
            tail = run[-n:]
            if len(tail) == n and (_surnamed(tail) or (n == 2 and tail in words)):
                found.append(("NAME", t.end - n, t.end))
                break
    return found


def _han_name(run: str, at: int) -> int:
    """The length of the name that opens run[at:] (0 if none): a surname and one or two
    characters, or a name of the lexicon."""
    for n in (3, 2, 4):
        head = run[at:at + n]
        if len(head) < n or head[-1] in _NOT_NAME or _HONORIFIC_INSIDE.match(run, at + n - 1):
            continue
        if _surnamed(head) or head in lexicon():
            return n
    return 0


_NOT_NAME = frozenset("的了是在和与與请請吗嗎呢吧也都就还還说說")
_CJK_CUE_INSIDE = re.compile(
    r"我叫|我是|我的名字是|名字是|名叫|叫做|姓名|联系|聯繫|联络|名前は")
_HONORIFIC_INSIDE = re.compile(
    r"先生|女士|小姐|老师|老師|同学|同學|さん|様|氏|君")


def _surnamed(han: str) -> bool:
    return 2 <= len(han) <= 4 and (han[0] in _CN_SURNAMES or han[:2] in _CN_DOUBLE) and all(
        "\u4e00" <= c <= "\u9fff" for c in han)
