"""The live status page at /: one self-contained HTML file (no external assets, offices are
often offline), drawn by a small script from /api/v1/status and refreshed by fetch().

The page is the same few kilobytes whatever the site's size (the data is not in it): its
script reads /api/v1/status at once and then every `status_page.refresh`, so the page and the
API cannot disagree, and a failed refresh keeps the last data on screen with a notice.
Times and durations arrive as text from the API (collectors/common/timefmt.py), so the page
has no formatter of its own. State is always a word in the badge; colour and the symbol
only repeat it.
"""

from __future__ import annotations

import json
from typing import Any

from agent.i18n import STATES, STATUS_PAGE

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:#1b1f23;background:#f4f5f7}
header,main,footer{max-width:64rem;margin:0 auto;padding:.6rem .8rem}
header{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:baseline}
h1{font-size:1.25rem;margin:0;flex:1 1 16rem;overflow-wrap:anywhere}
h2{font-size:1.05rem;margin:1rem 0 .4rem}
nav a{margin-left:.5rem}
#updated{font-size:.85rem;color:#555;width:100%}
#updated.stale{color:#a00;font-weight:600}
.banner{background:#fff4ce;border:1px solid #d8b200;padding:.5rem .7rem;border-radius:6px;
 margin:.4rem 0}
#summary{display:flex;flex-wrap:wrap;gap:.3rem;margin:.2rem 0;padding:0;list-style:none}
#summary li{background:#fff;border:1px solid #ccd;border-radius:1rem;padding:.1rem .6rem;
 font-size:.9rem}
ul.items{list-style:none;margin:0;padding:0}
li.item{background:#fff;border:1px solid #d6d9de;border-left:6px solid #888;
 border-radius:6px;margin:.35rem 0;padding:.45rem .6rem;display:grid;
 grid-template-columns:minmax(0,1fr) auto;gap:.15rem .6rem}
.head{display:flex;flex-wrap:wrap;gap:.2rem .5rem;align-items:baseline;min-width:0}
.name{font-weight:600;overflow-wrap:anywhere;min-width:0}
.state{font-weight:700;font-size:.8rem;text-transform:uppercase;padding:0 .4rem;
 border-radius:4px;white-space:nowrap;border:1px solid currentColor}
.meta{grid-column:1/-1;font-size:.85rem;color:#444;overflow-wrap:anywhere;min-width:0}
.meta span{margin-right:.8rem;display:inline-block}
.why{grid-column:1/-1;font-size:.88rem;overflow-wrap:anywhere;min-width:0}
.ack{grid-column:1/-1;font-size:.85rem;color:#0a3069;overflow-wrap:anywhere;min-width:0}
svg.spark{width:120px;height:26px;align-self:center}
li.s-up{border-left-color:#1a7f37}.s-up .state{color:#1a7f37}
li.s-down{border-left-color:#cf222e;background:#fff6f6}.s-down .state{color:#cf222e}
li.s-unreachable{border-left-color:#bc4c00;background:#fffaf3}
.s-unreachable .state{color:#bc4c00}
li.s-maintenance{border-left-color:#0969da}.s-maintenance .state{color:#0969da}
li.s-unknown{border-left-color:#6e7781}.s-unknown .state{color:#57606a}
footer{font-size:.8rem;color:#555}
footer a{margin-right:.8rem}
@media (max-width:480px){svg.spark{width:90px}body{font-size:14px}}
"""

_JS = r"""
(function(){
"use strict";
var T=JSON.parse(document.getElementById("i18n").textContent);
var doc=null;
var REFRESH=Number(document.body.dataset.refresh)*1000;
var LANG=document.documentElement.lang;
var SYM={up:"\u25B2",down:"\u25BC",unreachable:"\u25BD",maintenance:"\u25A0",unknown:"?"};
function esc(s){return String(s==null?"":s).replace(/[&<>"']/g,function(c){
 return {"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c];});}
function num(v,d){var s=v.toFixed(d==null?1:d);return LANG==="id"?s.replace(".",","):s;}
function pct(r){return num(r*100,2)+(LANG==="id"?" %":"%");}
function spark(it,gen){
 // the line ends at the item's latest result: move it along to the present minute
 var sh=Math.max(0,Math.floor(gen/60)-Math.floor((it.spark_end||0)/60));
 var ms=(it.spark_ms||[]).slice(Math.min(sh,60)),ok=(it.spark_ok||"").slice(Math.min(sh,60));
 while(ms.length<60){ms.push(null);ok+=".";}
 var max=0,i,pts=[],bad="",lo=null,hi=null;
 for(i=0;i<ms.length;i++){if(ms[i]!=null){max=Math.max(max,ms[i]);
  lo=lo==null?ms[i]:Math.min(lo,ms[i]);hi=hi==null?ms[i]:Math.max(hi,ms[i]);}}
 for(i=0;i<ms.length;i++){
  if(ok.charAt(i)==="0")bad+='<rect x="'+i+'" y="0" width="1" height="24" fill="#cf222e"/>';
  if(ms[i]!=null)pts.push(i+","+(23-(max>0?ms[i]/max*21:0)).toFixed(1));}
 if(pts.length===1)pts.push((Number(pts[0].split(",")[0])-1)+","+pts[0].split(",")[1]);
 var label=T.spark+": "+(lo==null?T.nodata:num(lo)+"\u2013"+num(hi)+" ms");
 return '<svg class="spark" viewBox="0 0 60 24" preserveAspectRatio="none" role="img"'+
  ' aria-label="'+esc(label)+'"><title>'+esc(label)+'</title>'+bad+
  (pts.length>1?'<polyline fill="none" stroke="#0969da" stroke-width="1"'+
  ' vector-effect="non-scaling-stroke" points="'+pts.join(" ")+'"/>':"")+'</svg>';}
function why(it){
 if(it.state==="unreachable")return T.suppressed_by+" "+esc(it.root_cause.join(", "))+
  (it.reason_text?" \u00B7 "+T.reason+": "+esc(it.reason_text):"");
 if(it.state==="down")return T.reason+": "+esc(it.reason_text||it.last_error_text||"\u2013");
 return "";}
function ackOf(a){
 return '<div class="ack">'+T.acked+" "+esc(a.by)+" "+T.acked_at+" "+esc(a.at_text)+
  (a.via?" ("+T.via+" "+esc(a.via)+")":"")+"</div>";}
function row(it,gen,acks){
 var m=[];
 if(it.target)m.push('<span class="target">'+esc(it.target)+'</span>');
 if(it.since_text)m.push('<span class="since">'+T.since+" "+esc(it.since_text)+
  (it.for_text?" ("+esc(it.for_text)+")":"")+"</span>");
 if(it.rtt_ms!=null)m.push('<span class="rtt">'+T.rtt+" "+num(it.rtt_ms)+" ms</span>");
 var a=it.availability;
 if(a)m.push('<span class="avail">'+T.avail+" "+(a.ratio==null?T.nodata:pct(a.ratio))+
  " ("+T.target+" "+pct(a.target)+")</span>");
 if(it.last_error&&it.state==="up")m.push('<span class="lasterr">'+T.last_error+": "+
  esc(it.last_error_text)+"</span>");
 var w=why(it);
 return '<li class="item s-'+it.state+'" data-name="'+esc(it.name)+'" data-state="'+
  it.state+'"><div class="head"><span class="state">'+SYM[it.state]+" "+
  esc(it.state_text)+'</span><span class="name">'+esc(it.name)+'</span></div>'+spark(it,gen)+
  (w?'<div class="why">'+w+"</div>":"")+(acks&&acks[it.name]?ackOf(acks[it.name]):"")+
  '<div class="meta">'+m.join("")+"</div></li>";}
function render(d){
 var by={},i,it,h="",acks={};
 for(i=0;i<d.items.length;i++){it=d.items[i];by[it.name]=it;}
 (d.acknowledgements||[]).forEach(function(a){acks[a.check]=a;});
 var c=d.counts,s="";
 ["down","unreachable","maintenance","unknown","up"].forEach(function(k){
  if(c[k])s+='<li class="c-'+k+'">'+c[k]+" "+esc(T.states[k])+"</li>";});
 document.getElementById("summary").innerHTML=s;
 var mb="";
 d.maintenance_active.forEach(function(w){mb+='<div class="banner" role="status">'+T.maint+
  " "+T.until+" "+esc(w.end_text)+" \u00B7 "+esc(w.checks.length?w.checks.join(", "):T.all)+
  (w.reason?" \u00B7 "+esc(w.reason):"")+"</div>";});
 document.getElementById("maint").innerHTML=mb;
 var open="";
 d.open_outages.forEach(function(n){if(by[n])open+=row(by[n],d.generated,acks);});
 document.getElementById("open").innerHTML=open?'<ul class="items">'+open+"</ul>":
  '<p class="none">'+T.none_open+"</p>";
 d.groups.forEach(function(g){
  var r="";
  d.items.forEach(function(x){if(x.group===g)r+=row(x,d.generated,acks);});
  if(r)h+='<section class="group" data-group="'+g+'"><h2>'+esc(T[g])+
   '</h2><ul class="items">'+r+"</ul></section>";});
 document.getElementById("groups").innerHTML=h;
 var u=document.getElementById("updated");
 u.className="";u.textContent=T.updated+" "+d.generated_text;
 document.body.dataset.generated=String(d.generated);}
function tick(){
 fetch("/api/v1/status?lang="+LANG,{credentials:"same-origin",cache:"no-store"})
 .then(function(r){if(!r.ok)throw new Error("HTTP "+r.status);return r.json();})
 .then(function(d){doc=d;render(d);})
 .catch(function(e){var u=document.getElementById("updated");u.className="stale";
  u.textContent=T.stale+" ("+e.message+")"+(doc?" \u00B7 "+T.updated+" "+doc.generated_text:"");})
 .then(function(){setTimeout(tick,REFRESH);});}
tick();
})();
"""

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} \u2014 {site}</title><style>{css}</style></head>
<body data-refresh="{refresh}">
<header><h1>{title} \u2014 {site}</h1>
<nav aria-label="{language}"><a href="?lang=id" hreflang="id" lang="id">{name_id}</a><a
href="?lang=en" hreflang="en" lang="en">{name_en}</a></nav>
<p id="updated" role="status" aria-live="polite">{loading}</p></header>
<main><ul id="summary" aria-label="{summary}"></ul><div id="maint"></div>
<h2>{open}</h2><div id="open"></div><div id="groups"></div>
<noscript><p>{noscript}</p></noscript></main>
<footer><a href="/metrics">/metrics</a><a href="/api/v1/status">/api/v1/status</a>
<a href="/api/v1/outages">/api/v1/outages</a><a href="/api/v1/maintenance">/api/v1/maintenance</a>
<span>pantau</span></footer>
<script id="i18n" type="application/json">{i18n}</script>
<script>{js}</script></body></html>
"""


def _script_json(value: Any) -> str:
    # Inside <script>, "</" would end the element; \u003c keeps the JSON identical.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(site: str, lang: str, refresh: float) -> bytes:
    import html

    words = STATUS_PAGE[lang]
    text: dict[str, Any] = {**words, "states": STATES[lang]}
    return _PAGE.format(
        lang=lang, title=html.escape(words["title"]), site=html.escape(site),
        css=_CSS, js=_JS, refresh=f"{max(refresh, 1.0):g}", summary=words["summary"],
        open=words["open"], noscript=words["noscript"], loading=words["loading"],
        language=html.escape(words["language"]),
        # each language's name in itself: the other language's table names it for a switch
        name_id=html.escape(STATUS_PAGE["id"]["lang_name"]),
        name_en=html.escape(STATUS_PAGE["en"]["lang_name"]),
        i18n=_script_json(text),
    ).encode()
