"""Write the SAMPLE directory of municipal hotlines: hotline/directory/sample_directory.csv.

Sample data for development, tests and demonstrations: the names follow the district's real
structure (46 partner departments plus the utilities, 7 street offices) but every number is in
9990 0000 - 9990 9999, a range we reserve for test data. These are not real numbers; the city
simulator answers them. Deterministic: running it again gives the same file.

    python scripts/make_sample_directory.py [OUTPUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hotline.directory.csvio import write_csv  # noqa: E402

OUTPUT = Path(__file__).resolve().parents[1] / "hotline" / "directory" / "sample_directory.csv"

STREETS = ["东城街道", "西城街道", "南湖街道", "北苑街道", "新华街道", "和平街道", "滨河街道"]

#: (name, category, keywords, topics) of the 46 partner departments.
PARTNERS: list[tuple[str, str, str, list[str]]] = [
    ("区住房和城乡建设委员会", "住房", "物业|房屋|维修基金", ["物业管理", "房屋安全", "保障房"]),
    ("区城市管理委员会", "市容", "垃圾|占道|违建", ["环境卫生", "违法建设", "户外广告"]),
    ("区交通委员会", "交通", "公交|停车|道路", ["停车管理", "公交线路", "道路养护"]),
    ("区生态环境局", "环保", "噪音|污染|油烟", ["噪声污染", "大气污染", "水污染"]),
    ("区市场监督管理局", "市场", "消费|食品|价格", ["消费维权", "食品安全", "价格监督"]),
    ("区人力资源和社会保障局", "劳动", "工资|社保|劳动合同", ["欠薪", "社会保险", "就业服务"]),
    ("区教育委员会", "教育", "学校|入学|培训", ["入学咨询", "校外培训", "校园安全"]),
    ("区卫生健康委员会", "卫生", "医院|医保|疫苗", ["医疗服务", "疫苗接种", "计划生育"]),
    ("区民政局", "民政", "养老|低保|婚姻", ["养老服务", "社会救助", "婚姻登记"]),
    ("区公安分局", "治安", "户籍|治安|身份证", ["户籍办理", "治安管理", "出入境"]),
    ("区交通支队", "交通", "违章|交通事故|信号灯", ["交通违法", "事故处理", "信号设施"]),
    ("区消防救援支队", "消防", "消防通道|隐患", ["消防隐患", "消防通道", "防火宣传"]),
    ("区应急管理局", "安全", "安全生产|应急", ["安全生产", "防汛", "应急避难"]),
    ("区水务局", "水务", "排水|河道|积水", ["排水管网", "河道管理", "节约用水"]),
    ("区园林绿化局", "绿化", "树木|绿地|公园", ["树木修剪", "公园管理", "绿地养护"]),
    ("区规划和自然资源分局", "规划", "规划|土地|测绘", ["规划许可", "土地管理", "不动产"]),
    ("区发展和改革委员会", "发展", "项目|价格", ["项目审批", "价格管理", "节能"]),
    ("区财政局", "财政", "票据|政府采购", ["财政票据", "政府采购", "会计管理"]),
    ("区税务局", "税务", "发票|纳税|个税", ["个人所得税", "发票管理", "纳税服务"]),
    ("区商务局", "商务", "商场|预付卡", ["预付卡", "商业网点", "外贸服务"]),
    ("区文化和旅游局", "文旅", "旅游|演出|网吧", ["旅游投诉", "文化市场", "图书馆"]),
    ("区体育局", "体育", "健身|场馆", ["全民健身", "体育场馆", "赛事活动"]),
    ("区科学技术委员会", "科技", "高新|科普", ["科技项目", "科普活动", "知识产权"]),
    ("区经济和信息化局", "经信", "企业|信息化", ["企业服务", "信息化", "无线电"]),
    ("区司法局", "法律", "法律援助|调解", ["法律援助", "人民调解", "公证"]),
    ("区退役军人事务局", "优抚", "退役|优抚", ["优抚待遇", "就业安置", "褒扬纪念"]),
    ("区医疗保障局", "医保", "报销|医保卡", ["医保报销", "医保卡", "异地就医"]),
    ("区审计局", "审计", "审计", ["审计监督", "经济责任", "政策咨询"]),
    ("区统计局", "统计", "普查|统计", ["人口普查", "经济普查", "统计咨询"]),
    ("区农业农村局", "农业", "农业|动物防疫", ["动物防疫", "农产品", "农村建设"]),
    ("区人民防空办公室", "人防", "人防工程|地下室", ["人防工程", "地下空间", "防空警报"]),
    ("区政务服务管理局", "政务", "办事|审批", ["政务大厅", "一网通办", "企业开办"]),
    ("区信访办公室", "信访", "信访", ["来信", "来访", "网上信访"]),
    ("区残疾人联合会", "残疾人", "残疾证|无障碍", ["残疾证办理", "无障碍设施", "康复服务"]),
    ("区妇女联合会", "妇女儿童", "家庭|妇女权益", ["妇女维权", "家庭教育", "儿童关爱"]),
    ("区总工会", "工会", "职工|维权", ["职工维权", "困难帮扶", "劳模服务"]),
    ("团区委", "青年", "青少年|志愿", ["青少年服务", "志愿服务", "青年就业"]),
    ("区红十字会", "救助", "献血|捐赠", ["应急救护", "无偿献血", "人道捐赠"]),
    ("区档案馆", "档案", "档案查询", ["档案查询", "婚姻档案", "知青档案"]),
    ("区住房保障事务中心", "住房", "公租房|廉租房", ["公租房", "共有产权房", "租房补贴"]),
    ("区不动产登记中心", "不动产", "房产证|登记", ["产权登记", "抵押登记", "查询服务"]),
    ("区社会保险基金管理中心", "社保", "养老金|参保", ["养老保险", "失业保险", "工伤保险"]),
    ("区疾病预防控制中心", "疾控", "传染病|体检", ["传染病防控", "健康体检", "病媒生物"]),
    ("区城市管理综合行政执法局", "执法", "城管|执法|摆摊", ["无照经营", "渣土运输", "夜间施工"]),
    ("区房屋征收事务中心", "征收", "拆迁|征收|补偿", ["征收补偿", "安置房", "征收咨询"]),
    ("区机关事务管理局", "机关", "公务|节能", ["公务用车", "公共机构节能", "办公用房"]),
]

#: (name, category, keywords, services) of the utilities.
UTILITIES: list[tuple[str, str, str, list[str]]] = [
    ("区自来水公司供水服务热线", "供水", "停水|水压|水质|水表", ["抢修", "报装", "缴费", "水质检测"]),
    ("区供电公司电力服务热线", "供电", "停电|电表|电费", ["抢修", "报装", "缴费", "计量"]),
    ("区燃气集团燃气服务热线", "燃气", "燃气泄漏|燃气表|天然气", ["抢修", "报装", "缴费", "安检"]),
    ("区热力集团供暖服务热线", "供暖", "暖气|供热|室温", ["抢修", "报停", "缴费", "测温"]),
    ("区排水集团排水服务热线", "排水", "下水道|污水|井盖", ["抢修", "疏通", "井盖", "雨污分流"]),
    ("电信公司客户服务热线", "通信", "宽带|固话|电信", ["故障报修", "装机", "缴费", "投诉"]),
    ("移动公司客户服务热线", "通信", "手机信号|基站|移动", ["故障报修", "信号", "缴费", "投诉"]),
    ("联通公司客户服务热线", "通信", "宽带|联通|信号", ["故障报修", "装机", "缴费", "投诉"]),
    ("有线电视网络公司服务热线", "广电", "有线电视|机顶盒", ["故障报修", "开户", "缴费", "投诉"]),
    ("区公交集团服务热线", "公交", "公交车|线路|站牌", ["失物招领", "线路咨询", "投诉", "一卡通"]),
]

OFFICE_HOURS = "mon-fri 08:30-12:00 13:30-17:30"
WINDOW_HOURS = "mon-fri 09:00-17:00; sat 09:00-12:00"


def build_rows() -> list[dict[str, object]]:
    """Every sample entry, numbers allocated in order from 9990 0000."""
    rows: list[dict[str, object]] = []
    number = iter(range(99900000, 99910000))
    fallback = iter(range(99905000, 99910000))

    def add(name: str, code: str, dept: str, kind: str, categories: list[str],
            keywords: str, hours: str, notes: str, with_fallback: bool = False) -> None:
        rows.append({
            "name": name, "department_code": code, "department_name": dept,
            "department_kind": kind, "number": str(next(number)),
            "fallback_numbers": [str(next(fallback))] if with_fallback else [],
            "categories": categories, "keywords": keywords.split("|"),
            "service_hours": hours, "notes": notes})

    for i, (dept, category, keywords, topics) in enumerate(PARTNERS, start=1):
        code = f"D{i:02d}"
        add(f"{dept}总值班室", code, dept, "partner", [category], keywords, "24/7",
            "样例数据：夜间与节假日值班", with_fallback=True)
        add(f"{dept}咨询热线", code, dept, "partner", [category], keywords, OFFICE_HOURS,
            "样例数据")
        add(f"{dept}投诉举报电话", code, dept, "partner", [category, "投诉"], keywords,
            OFFICE_HOURS, "样例数据")
        for topic in topics:
            add(f"{dept}{topic}专线", code, dept, "partner", [category], f"{topic}|{keywords}",
                OFFICE_HOURS, "样例数据")
        for street in STREETS:
            add(f"{dept}{street}工作站", code, dept, "partner", [category],
                f"{street}|{keywords}", WINDOW_HOURS, "样例数据：街道派驻")
    for i, (name, category, keywords, services) in enumerate(UTILITIES, start=1):
        code = f"U{i:02d}"
        company = name.removesuffix("服务热线").removesuffix("客户")
        add(name, code, company, "utility", [category], keywords, "24/7", "样例数据",
            with_fallback=True)
        for service in services:
            hours = "24/7" if service in ("抢修", "故障报修") else OFFICE_HOURS
            add(f"{company}{service}电话", code, company, "utility", [category],
                f"{service}|{keywords}", hours, "样例数据")
        for street in STREETS:
            add(f"{company}{street}营业厅", code, company, "utility", [category],
                f"{street}|{keywords}", WINDOW_HOURS, "样例数据：营业网点")
    return rows


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else OUTPUT
    rows = build_rows()
    text = write_csv(rows, comments=[
        "SAMPLE DATA - not a real directory. Generated by scripts/make_sample_directory.py.",
        "All numbers are in 9990 0000 - 9990 9999, a range reserved for test data; they are "
        "not real numbers (the city simulator answers them).",
        f"{len(rows)} entries: {len(PARTNERS)} partner departments and {len(UTILITIES)} "
        "utilities.",
    ])
    output.write_text(text, "utf-8")
    print(f"wrote {len(rows)} sample entries to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
